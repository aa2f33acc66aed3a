import { Aws, CfnRule, Fn, Token, type Stack } from 'aws-cdk-lib';
import type { NetworkParameters } from './network-parameters';
import { FARGATE_MEMORY_BY_CPU, TASK_COUNTS, type OperationsParameters } from './operations-parameters';

/** Regions where AWS HealthImaging is available (REFERENCE §2). */
export const HEALTHIMAGING_REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1', 'eu-west-2', 'ap-southeast-2'] as const;

/**
 * Template Rules: checked when the user presses "Create stack", before any
 * resource exists, each with a message that says what to change.
 */
export function addTemplateRules(stack: Stack, network: NetworkParameters, ops: OperationsParameters): void {
  addRegionAndNetworkRules(stack, network, ops);
  addSizingRules(stack, ops);
}

function addRegionAndNetworkRules(stack: Stack, network: NetworkParameters, ops: OperationsParameters): void {
  new CfnRule(stack, 'RegionSupportsHealthImaging', {
    assertions: [
      {
        assert: Fn.conditionContains([...HEALTHIMAGING_REGIONS], Aws.REGION),
        assertDescription: `AWS HealthImaging is not available in this Region. Launch the stack in one of: ${HEALTHIMAGING_REGIONS.join(', ')}.`,
      },
    ],
  });

  new CfnRule(stack, 'SubnetsBelongToVpc', {
    assertions: [
      {
        assert: Fn.conditionEachMemberEquals(
          Token.asList(Fn.valueOf(network.publicSubnetIds.node.id, 'VpcId')),
          network.vpcId.valueAsString,
        ),
        assertDescription: 'Every public subnet (PublicSubnetIDs) must belong to the VPC chosen in VpcID.',
      },
      {
        assert: Fn.conditionEachMemberEquals(
          Token.asList(Fn.valueOf(network.privateSubnetIds.node.id, 'VpcId')),
          network.vpcId.valueAsString,
        ),
        assertDescription: 'Every private subnet (PrivateSubnetIDs) must belong to the VPC chosen in VpcID.',
      },
    ],
  });

  // A Network Load Balancer sends traffic only to targets in Availability
  // Zones enabled on it (Elastic Load Balancing User Guide, "Availability
  // Zones and load balancer nodes"): a task in a private subnet of a zone the
  // internet-facing load balancer has no public subnet in never receives an
  // association. With an internal load balancer both use the private subnets.
  new CfnRule(stack, 'SubnetZonesMatch', {
    ruleCondition: Fn.conditionEquals(network.loadBalancerScheme.valueAsString, 'internet-facing'),
    assertions: [
      {
        assert: Fn.conditionEachMemberIn(
          Token.asList(Fn.valueOf(network.privateSubnetIds.node.id, 'AvailabilityZone')),
          Token.asList(Fn.valueOf(network.publicSubnetIds.node.id, 'AvailabilityZone')),
        ),
        assertDescription:
          'Every private subnet (PrivateSubnetIDs) must be in an Availability Zone where you also chose a public subnet (PublicSubnetIDs): the load balancer reaches tasks only in its own zones.',
      },
    ],
  });

  new CfnRule(stack, 'DatastoreKeyNeedsExistingDatastore', {
    ruleCondition: Fn.conditionNot(Fn.conditionEquals(ops.existingDatastoreKmsKeyArn.valueAsString, '')),
    assertions: [
      {
        assert: Fn.conditionNot(Fn.conditionEquals(ops.existingDatastoreId.valueAsString, '')),
        assertDescription: 'ExistingDatastoreKmsKeyArn applies only to an existing data store: enter ExistingDatastoreId too, or leave the key empty.',
      },
    ],
  });

  new CfnRule(stack, 'SendersAllowed', {
    assertions: [
      {
        assert: Fn.conditionOr(
          ...[network.vpcCidr, ...network.peerCidrs].map((p) => Fn.conditionNot(Fn.conditionEquals(p.valueAsString, ''))),
        ),
        assertDescription:
          'No sender could reach the SCP: enter VpcCIDR or at least one of PeerCIDR1, PeerCIDR2, PeerCIDR3.',
      },
    ],
  });
}

function addSizingRules(stack: Stack, ops: OperationsParameters): void {
  for (const [cpu, memory] of Object.entries(FARGATE_MEMORY_BY_CPU)) {
    new CfnRule(stack, `TaskMemoryFitsCpu${cpu}`, {
      ruleCondition: Fn.conditionEquals(ops.taskCpu.valueAsString, cpu),
      assertions: [
        {
          assert: Fn.conditionContains(memory.map(String), ops.taskMemory.valueAsString),
          assertDescription: `With TaskCPU ${cpu}, TaskMemoryLimit must be one of ${memory[0]}-${memory[memory.length - 1]} MiB in steps of 1024.`,
        },
      ],
    });
  }

  // Rules cannot compare numbers, so "TaskDesiredCount <= AutoscaleMaxCapacity"
  // becomes one rule per allowed desired count d: the maximum must be one of
  // d..100. Without it the service is created and the scalable target then
  // fails (MinCapacity > MaxCapacity), rolling back a half-built stack.
  for (const desired of TASK_COUNTS) {
    new CfnRule(stack, `TaskCountsFit${desired}`, {
      ruleCondition: Fn.conditionEquals(ops.desiredCount.valueAsString, String(desired)),
      assertions: [
        {
          assert: Fn.conditionContains(TASK_COUNTS.filter((max) => max >= desired).map(String), ops.maxCapacity.valueAsString),
          assertDescription: `AutoscaleMaxCapacity must be at least TaskDesiredCount (${desired}).`,
        },
      ],
    });
  }
}
