/**
 * Development provider: prints the code on the server's console instead of sending an SMS. The
 * line names the verification id and only the number's last two digits.
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
