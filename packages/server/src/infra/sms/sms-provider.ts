/**
 * How verification codes reach a phone. The server sends SMS only for its own codes: "the server
 * never sends a user's text by SMS" (docs/design.md, Messaging: SMS fallback). The adapters of
 * the providers operators use (twilio.ts, vonage.ts, sinch.ts, and http-provider.ts for any other
 * gateway) are chosen by PARLEY_SMS_PROVIDER (providers.ts).
 */

export interface VerificationSms {
  /** E.164 recipient. Held only for this call; providers must not log it. */
  to: string;
  code: string;
  verificationId: string;
  expiresAt: Date;
  /** The requester's languages, most preferred first (Accept-Language): picks the text. */
  languages?: readonly string[];
}

export interface SmsProvider {
  readonly name: string;
  sendVerification(sms: VerificationSms): Promise<void>;
}

/** The last two digits, which is as much of a number as any log line may carry. */
export function maskNumber(e164: string): string {
  return `…${e164.slice(-2)}`;
}
