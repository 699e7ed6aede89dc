/**
 * Messages on the alerts topic that are not our own notifications: CloudWatch alarm state changes (the
 * stack's alarms publish ALARM and OK there) and anything else someone publishes. Pure: parsing and the
 * Slack Block Kit rendering, no I/O.
 */

/** The fields of a CloudWatch alarm's SNS message body that we render (AWS sends more; they are ignored). */
export interface CloudWatchAlarmMessage {
  readonly AlarmName: string;
  readonly AlarmDescription?: string | null;
  readonly AWSAccountId: string;
  readonly NewStateValue: string;
  readonly OldStateValue?: string;
  readonly NewStateReason: string;
  readonly StateChangeTime: string;
  /** The region's long name ("EU (Ireland)"); the code is in AlarmArn. */
  readonly Region: string;
  readonly AlarmArn?: string;
}

/** A Slack incoming-webhook payload. */
export interface SlackPayload {
  readonly text: string;
  readonly blocks: object[];
}

const REQUIRED = [
  'AlarmName',
  'AWSAccountId',
  'NewStateValue',
  'NewStateReason',
  'StateChangeTime',
  'Region',
];

/** The message as a CloudWatch alarm state change, or undefined when it is not one. */
export function asCloudWatchAlarm(value: unknown): CloudWatchAlarmMessage | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  return REQUIRED.every((key) => typeof v[key] === 'string') ? (value as CloudWatchAlarmMessage) : undefined;
}

/** The region code of an alarm: from its ARN (`arn:aws:cloudwatch:<region>:…`), else the fallback. */
function regionCode(alarm: CloudWatchAlarmMessage, fallback: string | undefined): string | undefined {
  const fromArn = alarm.AlarmArn?.split(':')[3];
  return fromArn && /^[a-z]{2}(-[a-z]+)+-\d$/.test(fromArn) ? fromArn : fallback;
}

/** The alarm's page in the CloudWatch console, when its region is known. */
export function alarmConsoleUrl(alarm: CloudWatchAlarmMessage, fallbackRegion?: string): string | undefined {
  const region = regionCode(alarm, fallbackRegion);
  if (!region) return undefined;
  return `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#alarmsV2:alarm/${encodeURIComponent(alarm.AlarmName)}`;
}

const STATE_EMOJI: Record<string, string> = {
  ALARM: ':red_circle:',
  OK: ':large_green_circle:',
  INSUFFICIENT_DATA: ':grey_question:',
};

/** At most `max` characters, never splitting a character made of two UTF-16 units. */
export function clip(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/** A CloudWatch alarm state change as a Slack message: alarm, state, reason and a console link. */
export function alarmSlackMessage(alarm: CloudWatchAlarmMessage, fallbackRegion?: string): SlackPayload {
  const emoji = STATE_EMOJI[alarm.NewStateValue] ?? ':bell:';
  const title = `${alarm.NewStateValue}: ${alarm.AlarmName}`;
  const change = alarm.OldStateValue
    ? `${alarm.OldStateValue} → ${alarm.NewStateValue}`
    : alarm.NewStateValue;
  const url = alarmConsoleUrl(alarm, fallbackRegion);
  const blocks: object[] = [
    { type: 'header', text: { type: 'plain_text', text: clip(title, 150) } },
    {
      type: 'section',
      text: { type: 'mrkdwn', text: clip(alarm.AlarmDescription || alarm.AlarmName, 3000) },
      fields: [
        { type: 'mrkdwn', text: `*State:*\n${change}` },
        { type: 'mrkdwn', text: `*Since:*\n${alarm.StateChangeTime}` },
        { type: 'mrkdwn', text: `*Account:*\n${alarm.AWSAccountId}` },
        { type: 'mrkdwn', text: `*Region:*\n${alarm.Region}` },
      ],
    },
    { type: 'section', text: { type: 'mrkdwn', text: clip(`*Reason*\n${alarm.NewStateReason}`, 3000) } },
  ];
  if (url) {
    blocks.push({
      type: 'actions',
      elements: [{ type: 'button', text: { type: 'plain_text', text: 'Alarm in CloudWatch' }, url }],
    });
  }
  blocks.push({
    type: 'context',
    elements: [{ type: 'mrkdwn', text: 'CloudWatch alarm · replica-sentinel' }],
  });
  return { text: clip(`${emoji} ${title}`, 3000), blocks };
}

/**
 * A message we cannot render, posted as it came (clipped to Slack's limits) with why it was not rendered,
 * so the channel sees it instead of it being retried into a dead-letter queue.
 */
export function plainSlackMessage(subject: string | undefined, body: string, reason: string): SlackPayload {
  const title = subject?.trim() || 'Message on the alerts topic';
  return {
    text: clip(title, 3000),
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: clip(title, 150) } },
      { type: 'section', text: { type: 'plain_text', text: clip(body || '(empty message)', 3000) } },
      {
        type: 'context',
        elements: [{ type: 'mrkdwn', text: clip(`posted as plain text: ${reason}`, 3000) }],
      },
    ],
  };
}
