// Kinesis records in the exact shape Lambda delivers; local mode feeds its handlers the same way.
export { kinesisEvent, kinesisRecord, type Payload, redeliveryFrom } from '../../local/kinesis-records';
