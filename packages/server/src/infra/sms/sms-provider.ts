/**
 * How verification codes reach a phone. The server sends SMS only for its own codes: "the server
 * never sends a user's text by SMS" (docs/design.md, Messaging: SMS fallback).
 */

export interface VerificationSms {
  /** E.164 recipient. Held only for this call; providers must not log it. */
  to: string;
  code: string;
  verificationId: string;
  expiresAt: Date;
}

export interface SmsProvider {
  readonly name: string;
  sendVerification(sms: VerificationSms): Promise<void>;
}

/** The last two digits, which is as much of a number as any log line may carry. */
export function maskNumber(e164: string): string {
  return `…${e164.slice(-2)}`;
}

export function verificationText(code: string): string {
  return `Your Parley code is ${code}. Do not share it with anyone.`;
}
