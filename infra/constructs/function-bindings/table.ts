/**
 * {@link SentinelFunction}'s bindings to the node-state table: `TABLE_NAME` and exactly the DynamoDB and KMS
 * actions a function's use of the table needs (its items by access level, or its idempotency records only).
 */
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { idempotencyPartitionKey } from '../../../functions/adapters/table-definition';
import type { SentinelFunction } from '../sentinel-function';

/** How a function uses the node-state table: read only, or read and conditional writes. */
export type TableAccess = 'R' | 'RW';

/**
 * DynamoDB data-plane actions per access level: exactly what the handlers call (GetItem, Query,
 * BatchGetItem; PutItem/UpdateItem for conditional writes). No Scan, no DeleteItem, no BatchWriteItem.
 */
const TABLE_ACTIONS: Readonly<Record<TableAccess, readonly string[]>> = {
  R: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'],
  RW: [
    'dynamodb:GetItem',
    'dynamodb:BatchGetItem',
    'dynamodb:Query',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
  ],
};

/**
 * KMS actions on the table's key per access level. DynamoDB uses the caller's permissions on a
 * customer-managed key to decrypt (reads) and encrypt (writes) the table key; named actions, no wildcards.
 */
const TABLE_KEY_ACTIONS: Readonly<Record<TableAccess, readonly string[]>> = {
  R: ['kms:Decrypt', 'kms:DescribeKey'],
  RW: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'],
};

/**
 * What Powertools' DynamoDB idempotency persistence layer calls: GetItem (consistent read of a record),
 * PutItem (conditional, to claim a key), UpdateItem (to save the result) and DeleteItem (to release a
 * key after a failure).
 */
const IDEMPOTENCY_ACTIONS: readonly string[] = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
];

/** Options of {@link SentinelFunction.bindTable}. */
export interface TableBindingOptions {
  readonly indexes?: readonly string[];
  readonly key?: IKey;
  readonly conditionChecks?: boolean;
}

/** {@link SentinelFunction.bindTable}: see there. */
export function bindTable(
  target: SentinelFunction,
  table: ITableV2,
  access: TableAccess,
  options: TableBindingOptions,
): void {
  if (options.conditionChecks === true && access !== 'RW') {
    throw new Error(
      `${target.node.path}: conditionChecks are part of transactional writes and need access 'RW'`,
    );
  }
  target.fn.addEnvironment('TABLE_NAME', table.tableName);
  // Not table.grantReadWriteData() / table.grant(): on a table with a GSI those add `<table>/index/*`
  // (cdk-nag IAM5) and, for the data grants, Scan, DeleteItem, BatchWriteItem and kms:*Key* wildcards.
  // A TransactWriteItems call is authorized per item: PutItem / UpdateItem for its Put and Update items,
  // dynamodb:ConditionCheckItem for its ConditionCheck items.
  const actions = [
    ...TABLE_ACTIONS[access],
    ...(options.conditionChecks === true ? ['dynamodb:ConditionCheckItem'] : []),
  ];
  target.role.addToPrincipalPolicy(new PolicyStatement({ actions, resources: [table.tableArn] }));
  // An index can only be queried (its items are written through the table), so Query is all it gets.
  const indexArns = (options.indexes ?? []).map((name) => `${table.tableArn}/index/${name}`);
  if (indexArns.length > 0) {
    target.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['dynamodb:Query'], resources: indexArns }),
    );
  }
  (options.key ?? table.encryptionKey)?.grant(target.role, ...TABLE_KEY_ACTIONS[access]);
}

/** {@link SentinelFunction.bindIdempotencyRecords}: see there. */
export function bindIdempotencyRecords(
  target: SentinelFunction,
  table: ITableV2,
  scope: string,
  options: { readonly key?: IKey },
): void {
  target.fn.addEnvironment('TABLE_NAME', table.tableName);
  target.role.addToPrincipalPolicy(
    new PolicyStatement({
      actions: [...IDEMPOTENCY_ACTIONS],
      resources: [table.tableArn],
      conditions: {
        'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [idempotencyPartitionKey(scope)] },
      },
    }),
  );
  (options.key ?? table.encryptionKey)?.grant(target.role, ...TABLE_KEY_ACTIONS.RW);
}
