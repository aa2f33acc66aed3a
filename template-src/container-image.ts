import { Aws, Fn } from 'aws-cdk-lib';

/** An Amazon ECR repository named by an image reference. */
export interface EcrRepositoryRef {
  readonly account: string;
  readonly region: string;
  readonly repository: string;
}

const ECR_IMAGE = /^([0-9]{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([a-z0-9._/-]+?)(?::[A-Za-z0-9._-]+)?(?:@sha256:[0-9a-f]{64})?$/;

/**
 * The ECR repository of an image reference such as
 * `709825985650.dkr.ecr.us-east-1.amazonaws.com/seller/repo:1.0.0`, or
 * undefined when the image is not in ECR.
 */
export function parseEcrImage(imageUri: string): EcrRepositoryRef | undefined {
  const match = ECR_IMAGE.exec(imageUri);
  if (!match) return undefined;
  const [, account, region, repository] = match as unknown as [string, string, string, string];
  return { account, region, repository };
}

/** ARN of the repository (partition resolved at deployment). */
export function repositoryArn(ref: EcrRepositoryRef): string {
  return `arn:${Aws.PARTITION}:ecr:${ref.region}:${ref.account}:repository/${ref.repository}`;
}

/**
 * ARN of the ECR repository of an image reference known only at deployment
 * (a parameter): `<account>.dkr.ecr.<region>.amazonaws.com/<repository>[:tag|@digest]`
 * → `arn:<partition>:ecr:<region>:<account>:repository/<repository>`. Used only
 * under a condition that the reference is given; a reference outside ECR
 * yields an ARN that matches no repository, so nothing is granted.
 */
export function repositoryArnOfParameter(imageUri: string): string {
  const host = Fn.select(0, Fn.split('/', imageUri));
  const hostParts = Fn.split('.', host);
  const path = Fn.select(1, Fn.split('.amazonaws.com/', imageUri));
  const repository = Fn.select(0, Fn.split('@', Fn.select(0, Fn.split(':', path))));
  return `arn:${Aws.PARTITION}:ecr:${Fn.select(3, hostParts)}:${Fn.select(0, hostParts)}:repository/${repository}`;
}
