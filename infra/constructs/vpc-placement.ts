/**
 * Where a function runs in the user's VPC: the placement (VPC, subnets, security groups), its import from the
 * ids a user configures, and the network-interface actions Lambda needs for a function placed there.
 */
import { Fn, Validations } from 'aws-cdk-lib';
import {
  type ISecurityGroup,
  type ISubnet,
  type IVpc,
  SecurityGroup,
  Subnet,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import type { Construct } from 'constructs';

/**
 * What Lambda does with the execution role of a function placed in a VPC: create, describe and delete its
 * network interfaces in the function's subnets (the actions of the AWSLambdaVPCAccessExecutionPermissions
 * managed policy, named here instead of attaching it). They take `"*"`: Describe* has no resource-level
 * permissions, and the interfaces are created and named by Lambda at run time.
 */
export const VPC_ENI_ACTIONS: readonly string[] = [
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
];

/** Where a function in a VPC runs: exactly these subnets, with exactly these security groups. */
export interface VpcPlacement {
  /** The VPC of the subnets. */
  readonly vpc: IVpc;
  /** Private subnets the function's network interfaces are created in (at least one). */
  readonly subnets: readonly ISubnet[];
  /** Security groups of those interfaces (at least one); their egress rules decide what the function reaches. */
  readonly securityGroups: readonly ISecurityGroup[];
}

/** A VPC placement as a user configures it: ids only. */
export interface NetworkIds {
  readonly vpcId: string;
  readonly subnetIds: readonly string[];
  readonly securityGroupIds: readonly string[];
}

/**
 * Imports the user's VPC, subnets and security groups by id as a {@link VpcPlacement}, without a lookup
 * (synthesis needs no network and no AWS account). The security groups are imported as they are: their
 * rules stay the network owner's. `user` names the function in the acknowledgements' reasons.
 */
export function importVpcPlacement(scope: Construct, network: NetworkIds, user: string): VpcPlacement {
  const vpc = Vpc.fromVpcAttributes(scope, 'Vpc', {
    vpcId: network.vpcId,
    // The function is placed in the subnets below, selected by id: the VPC's own subnet layout and AZs
    // play no part (CDK wants a list here; the region's AZs, resolved by CloudFormation, are never used).
    availabilityZones: Fn.getAzs(),
  });
  Validations.of(vpc).acknowledge({
    id: 'Annotation::@aws-cdk/aws-ec2:vpcAttributeIsListTokenavailabilityZones',
    reason:
      `The imported VPC only carries ${user}: its subnets are selected by id, so no construct ` +
      "reads the VPC's availability zones or subnet lists at synthesis time.",
  });
  const subnets = network.subnetIds.map((subnetId, index) => {
    const subnet = Subnet.fromSubnetId(scope, `Subnet${index}`, subnetId);
    Validations.of(subnet).acknowledge({
      id: 'Annotation::@aws-cdk/aws-ec2:noSubnetRouteTableId',
      reason:
        `Only the subnet id is used (the VpcConfig of ${user}); routing stays the network owner's, nothing here reads ` +
        "or changes the subnet's route table.",
    });
    return subnet;
  });
  const securityGroups = network.securityGroupIds.map((groupId, index) =>
    SecurityGroup.fromSecurityGroupId(scope, `SecurityGroup${index === 0 ? '' : index}`, groupId, {
      mutable: false,
    }),
  );
  return { vpc, subnets, securityGroups };
}
