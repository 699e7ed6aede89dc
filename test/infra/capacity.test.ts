import { Template } from 'aws-cdk-lib/assertions';
import { TABLE } from '../../functions/adapters/table-definition';
import { type TestApp, testApp } from './support';

/** The cost switches (docs/SIZING.md): change-events stream, stream capacity, table capacity. */
describe('capacity and existence of the streams and the table', () => {
  const apps: TestApp[] = [];
  const synth = (context: Record<string, unknown> = {}) => {
    const t = testApp({ bundling: false, context });
    apps.push(t);
    return { t, template: Template.fromStack(t.stack) };
  };
  afterAll(() => {
    for (const t of apps) t.cleanup();
  });

  it('deploys no change-events stream, function or alarm unless change streams are configured', () => {
    const { t, template } = synth();
    expect(t.stack.ingest.changeStream).toBeUndefined();
    expect(t.stack.ingest.changeStreamFunction).toBeUndefined();
    template.resourceCountIs('AWS::Kinesis::Stream', 1);
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 2); // heartbeats and the table stream
    const text = JSON.stringify(template.toJSON());
    expect(text).not.toMatch(/ChangeEvents|ChangeStream|change-events/);

    const withChange = synth({ changeStreams: 'true' });
    withChange.template.resourceCountIs('AWS::Kinesis::Stream', 2);
    expect(JSON.stringify(withChange.template.toJSON())).toMatch(/ChangeEventsIteratorAge/);
  });

  it('gives the heartbeat stream one provisioned shard by default, N with streamShards, on-demand on request', () => {
    synth().template.hasResourceProperties('AWS::Kinesis::Stream', {
      ShardCount: 1,
      StreamModeDetails: { StreamMode: 'PROVISIONED' },
    });
    synth({ streamShards: '4' }).template.hasResourceProperties('AWS::Kinesis::Stream', {
      ShardCount: 4,
      StreamModeDetails: { StreamMode: 'PROVISIONED' },
    });
    const onDemand = synth({ streamShards: 'on-demand' }).template;
    onDemand.hasResourceProperties('AWS::Kinesis::Stream', {
      StreamModeDetails: { StreamMode: 'ON_DEMAND' },
    });
    expect(JSON.stringify(onDemand.toJSON())).not.toMatch(/ShardCount/);
  });

  it('bills the table on demand by default, or provisions it with auto scaling on the table and the index', () => {
    synth().template.hasResourceProperties('AWS::DynamoDB::GlobalTable', { BillingMode: 'PAY_PER_REQUEST' });
    const provisioned = synth({ tableCapacity: 'provisioned:800' }).template;
    const table = Object.values(provisioned.findResources('AWS::DynamoDB::GlobalTable'))[0] as {
      Properties: Record<string, unknown>;
    };
    expect(table.Properties.BillingMode).toBe('PROVISIONED');
    const scaling = {
      MinCapacity: 1,
      MaxCapacity: 800,
      TargetTrackingScalingPolicyConfiguration: { TargetValue: 70 },
    };
    expect(table.Properties.WriteProvisionedThroughputSettings).toEqual({
      WriteCapacityAutoScalingSettings: scaling,
    });
    const replica = (
      table.Properties.Replicas as {
        ReadProvisionedThroughputSettings?: unknown;
        GlobalSecondaryIndexes?: unknown[];
      }[]
    )[0];
    expect(replica?.ReadProvisionedThroughputSettings).toEqual({ ReadCapacityAutoScalingSettings: scaling });
    const index = (
      table.Properties.GlobalSecondaryIndexes as {
        IndexName: string;
        WriteProvisionedThroughputSettings?: unknown;
      }[]
    ).find((gsi) => gsi.IndexName === TABLE.sweepIndex.name);
    expect(index?.WriteProvisionedThroughputSettings).toEqual({ WriteCapacityAutoScalingSettings: scaling });
  });

  it.each([
    ['changeStreams', 'yes', /changeStreams must be true or false/],
    ['streamShards', '0', /streamShards must be a number of provisioned shards from 1 to 500, or on-demand/],
    ['streamShards', 'many', /streamShards must be/],
    ['tableCapacity', 'provisioned:0', /tableCapacity must be on-demand, provisioned or provisioned:MAX/],
    ['tableCapacity', 'reserved', /tableCapacity must be/],
  ])('rejects %s=%s naming the value', (key, value, message) => {
    expect(() => testApp({ bundling: false, context: { [key]: value } })).toThrow(message);
  });
});
