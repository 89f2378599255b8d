/**
 * Development provider: the SMS channel, played by the server's standard output. It prints the code
 * instead of sending an SMS, so the code is there by design: this line is the message to the phone,
 * not a log line (it is plain text, not pino JSON, and goes out whatever PARLEY_LOG_LEVEL says).
 * It names the verification id and only the number's last two digits. Production uses `http`.
 */

import { maskNumber, type SmsProvider, type VerificationSms } from './sms-provider.js';

export class ConsoleSmsProvider implements SmsProvider {
  readonly name = 'console';

  constructor(private readonly write: (line: string) => void = (l) => process.stdout.write(l)) {}

  async sendVerification(sms: VerificationSms): Promise<void> {
    this.write(
      `[parley] verification code ${sms.code} for verification ${sms.verificationId} (number ending ${maskNumber(sms.to)})\n`,
    );
  }
}
