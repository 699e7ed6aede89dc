import { Stack } from 'aws-cdk-lib';
import {
  CfnVPCEndpoint,
  InterfaceVpcEndpoint,
  InterfaceVpcEndpointAwsService,
  Peer,
  Port,
  SecurityGroup,
} from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { importVpcPlacement, type NetworkIds } from './vpc-placement';

/** The AWS APIs the functions in the VPC call, as interface endpoints (DynamoDB is a gateway endpoint). */
export const INTERFACE_ENDPOINT_SERVICES = {
  Kinesis: InterfaceVpcEndpointAwsService.KINESIS_STREAMS,
  SecretsManager: InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
  Ssm: InterfaceVpcEndpointAwsService.SSM,
  StepFunctions: InterfaceVpcEndpointAwsService.STEP_FUNCTIONS,
  Sns: InterfaceVpcEndpointAwsService.SNS,
} as const;

/** Props of {@link VpcEndpoints}. */
export interface VpcEndpointsProps {
  /** The network of the functions (the stack's `network`): endpoints go in its subnets. */
  readonly network: NetworkIds;
  /** Route tables of those subnets: the DynamoDB gateway endpoint is added to them. */
  readonly routeTableIds: readonly string[];
}

/**
 * VPC endpoints so that the probe and runbook-steps reach the AWS APIs from private subnets without a NAT
 * (a VPC function has no internet route of its own): interface endpoints (private DNS) for Kinesis (the
 * probe's PutRecords), Secrets Manager (logins), SSM (Automation hooks), Step Functions (task responses) and
 * SNS (runbook notifications), and a DynamoDB gateway endpoint on the subnets' route tables. The interface
 * endpoints get a security group of their own that admits HTTPS from the functions' security groups only.
 */
export class VpcEndpoints extends Construct {
  /** The interface endpoints, by service. */
  public readonly interfaceEndpoints: Readonly<
    Record<keyof typeof INTERFACE_ENDPOINT_SERVICES, InterfaceVpcEndpoint>
  >;
  /** The DynamoDB gateway endpoint. */
  public readonly dynamoDb: CfnVPCEndpoint;

  constructor(scope: Construct, id: string, props: VpcEndpointsProps) {
    super(scope, id);
    const { vpc, subnets } = importVpcPlacement(this, props.network, 'the VPC endpoints');
    const securityGroup = new SecurityGroup(this, 'EndpointSecurityGroup', {
      vpc,
      description: 'replica-sentinel: VPC endpoints, HTTPS from the functions only',
      allowAllOutbound: false,
    });
    for (const groupId of props.network.securityGroupIds) {
      securityGroup.addIngressRule(Peer.securityGroupId(groupId), Port.tcp(443), `HTTPS from ${groupId}`);
    }
    const entries = Object.entries(INTERFACE_ENDPOINT_SERVICES).map(([name, service]) => [
      name,
      new InterfaceVpcEndpoint(this, name, {
        vpc,
        service,
        subnets: { subnets: [...subnets] },
        securityGroups: [securityGroup],
        privateDnsEnabled: true,
        open: false,
      }),
    ]);
    this.interfaceEndpoints = Object.fromEntries(entries) as VpcEndpoints['interfaceEndpoints'];
    this.dynamoDb = new CfnVPCEndpoint(this, 'DynamoDb', {
      vpcId: props.network.vpcId,
      serviceName: `com.amazonaws.${Stack.of(this).region}.dynamodb`,
      vpcEndpointType: 'Gateway',
      routeTableIds: [...props.routeTableIds],
    });
  }
}
