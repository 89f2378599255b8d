export * from './directory-keys.js';
export * from './encoding.js';
export * from './error-docs.js';
export * from './errors.js';
export * from './membership-filter.js';
export * from './oprf.js';
export * from './phone.js';
export * from './schemas.js';
