/**
 * `npm run research -- <presign|download|status> ...`: research copies of a
 * stack (docs/deidentification.md). AWS credential chain; the stack is found
 * by `--stack NAME` through its Outputs (or, for local runs, by
 * --processed-bucket / --table and S3_ENDPOINT / DYNAMODB_ENDPOINT).
 * Exit codes: 0 done; 1 some objects failed (download); 2 usage or refusal.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { batchStatus, download, presign, ResearchCliError, studyStatus, type PresignManifest, type ResearchTarget, type Selector } from './research';

const USAGE = `usage: npm run research -- <command> [options]
  presign  (--key K | --study UID [--series UID]) [--expires S] [--out manifest.json]
  download (--manifest manifest.json | --key K | --study UID [--series UID]) --dir DIR [--concurrency N]
  status   (--batch ID | --study UID)
common: --stack NAME (reads the stack Outputs) | --processed-bucket B --table T [--default-expiry S --max-expiry S]`;

async function target(values: Record<string, string | undefined>): Promise<ResearchTarget> {
  if (values['stack']) {
    const res = await new CloudFormationClient({}).send(new DescribeStacksCommand({ StackName: values['stack'] }));
    const outputs = Object.fromEntries((res.Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
    if (!outputs['ProcessedBucketName']) throw new ResearchCliError(`stack ${values['stack']} has no research copies (DeidentificationMode is Off)`);
    return {
      processedBucket: outputs['ProcessedBucketName']!, tableName: outputs['JobTableName']!,
      defaultExpirySeconds: Number(outputs['ResearchDownloadDefaultExpiry']), maximumExpirySeconds: Number(outputs['ResearchDownloadMaximumExpiry']),
      researchStateMachineArn: outputs['ResearchStateMachineArn'],
    };
  }
  if (!values['processed-bucket'] || !values['table']) throw new ResearchCliError('give --stack NAME, or --processed-bucket and --table');
  return {
    processedBucket: values['processed-bucket'], tableName: values['table'],
    defaultExpirySeconds: Number(values['default-expiry'] ?? 3600), maximumExpirySeconds: Number(values['max-expiry'] ?? 43200),
  };
}

function selector(values: Record<string, string | undefined>): Selector {
  if (values['key']) return { key: values['key'] };
  if (values['study'] && values['series']) return { study: values['study'], series: values['series'] };
  if (values['study']) return { study: values['study'] };
  throw new ResearchCliError('give --key, or --study (and --series)');
}

export async function main(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s), err: (s: string) => void = (s) => process.stderr.write(s)): Promise<number> {
  const [command, ...rest] = argv;
  let parsed;
  try {
    parsed = parseArgs({
      args: rest, strict: true,
      options: Object.fromEntries(['stack', 'processed-bucket', 'table', 'default-expiry', 'max-expiry', 'key', 'study', 'series', 'expires', 'out', 'manifest', 'dir', 'concurrency', 'batch'].map((k) => [k, { type: 'string' as const }])),
    });
  } catch (e) {
    err(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const values = parsed.values as Record<string, string | undefined>;
  try {
    const t = await target(values);
    const s3 = new S3Client(process.env['S3_ENDPOINT'] ? { endpoint: process.env['S3_ENDPOINT'], forcePathStyle: true } : {});
    const signAndAudit = async () => {
      const creds = await s3.config.credentials();
      return presign(s3, t, selector(values), {
        expires: values['expires'] ? Number(values['expires']) : undefined, credentialsExpire: creds.expiration, principal: creds.accessKeyId,
        audit: (line) => err(`${line}\n`), warn: (line) => err(`warning: ${line}\n`),
      });
    };
    switch (command) {
      case 'presign': {
        const manifest = await signAndAudit();
        const text = `${JSON.stringify(manifest, null, 2)}\n`;
        if (values['out']) await writeFile(values['out'], text, { mode: 0o600 });
        else out(text);
        return 0;
      }
      case 'download': {
        if (!values['dir']) throw new ResearchCliError('--dir is required');
        const manifest = values['manifest'] ? (JSON.parse(await readFile(values['manifest'], 'utf8')) as PresignManifest) : await signAndAudit();
        const report = await download(manifest, values['dir'], { concurrency: values['concurrency'] ? Number(values['concurrency']) : 4 });
        out(`${JSON.stringify({ downloaded: report.downloaded.length, skipped: report.skipped.length, failed: report.failed }, null, 2)}\n`);
        return report.failed.length ? 1 : 0;
      }
      case 'status': {
        const ddbBase = new DynamoDBClient(process.env['DYNAMODB_ENDPOINT'] ? { endpoint: process.env['DYNAMODB_ENDPOINT'] } : {});
        const ddb = DynamoDBDocumentClient.from(ddbBase);
        if (values['batch']) {
          const status = await batchStatus(ddb, t, values['batch']);
          if (t.researchStateMachineArn) {
            const arn = `${t.researchStateMachineArn.replace(':stateMachine:', ':execution:')}:${values['batch']}`;
            status.execution = await new SFNClient({}).send(new DescribeExecutionCommand({ executionArn: arn })).then((r) => r.status, () => 'NOT_FOUND');
          }
          out(`${JSON.stringify(status, null, 2)}\n`);
        } else if (values['study']) {
          out(`${JSON.stringify(await studyStatus(ddb, t, values['study']), null, 2)}\n`);
        } else throw new ResearchCliError('give --batch or --study');
        return 0;
      }
      default:
        err(`${USAGE}\n`);
        return 2;
    }
  } catch (e) {
    if (e instanceof ResearchCliError) { err(`error: ${e.message}\n`); return 2; }
    err(`error: ${(e as Error).name}: ${(e as Error).message}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
