/** The SMS providers behind the Channel port, chosen by the configuration (SMS_PROVIDER). */
import { HttpSms } from './http.js';
import type { Fetch } from './request.js';
import { TwilioSms } from './twilio.js';

export type SmsProviderConfig =
  | {
      readonly provider: 'twilio';
      readonly accountSid: string;
      /** A secret. */
      readonly authToken: string;
      readonly from?: string;
      readonly messagingServiceSid?: string;
      readonly apiUrl: string;
    }
  | {
      readonly provider: 'http';
      readonly url: string;
      readonly body: string;
      /** A secret. */
      readonly auth?: string;
    };

/** The provider a configuration names; Twilio posts its status callbacks to `statusCallback`. */
export function smsProvider(
  config: SmsProviderConfig,
  options: { statusCallback?: string; fetch?: Fetch; onOptedOut?: (phone: string) => Promise<void> } = {},
): TwilioSms | HttpSms {
  const fetchOption = options.fetch ? { fetch: options.fetch } : {};
  if (config.provider === 'twilio') {
    return new TwilioSms({
      accountSid: config.accountSid,
      authToken: config.authToken,
      apiUrl: config.apiUrl,
      ...(config.from ? { from: config.from } : {}),
      ...(config.messagingServiceSid ? { messagingServiceSid: config.messagingServiceSid } : {}),
      ...(options.statusCallback ? { statusCallback: options.statusCallback } : {}),
      ...(options.onOptedOut ? { onOptedOut: options.onOptedOut } : {}),
      ...fetchOption,
    });
  }
  return new HttpSms({
    url: config.url,
    body: config.body,
    ...(config.auth ? { auth: config.auth } : {}),
    ...fetchOption,
  });
}
