// The cost model as code: a dated us-east-1 price table, a walk over a synthesized CloudFormation
// template that prices every billable resource into idle $/month, and the per-1,000-turn model
// from the stack's settings. docs/deploy.md's cost tables are generated from it
// (scripts/cost-tables) and a test fails when they drift.
import { EverrunsSettings } from './config';

/** us-east-1 on-demand list prices, as read on PRICES_AS_OF. Hours per month: 730. */
export const PRICES_AS_OF = '2026-12-01';
export const HOURS_PER_MONTH = 730;
export const PRICES = {
  natGatewayHour: 0.045,
  natGatewayGb: 0.045,
  publicIpv4Hour: 0.005,
  albHour: 0.0225,
  nlbHour: 0.0225,
  auroraServerlessAcuHour: 0.12,
  auroraStorageGbMonth: 0.1,
  /** RDS Proxy on Aurora Serverless v2 bills ACUs with a floor of 8. */
  rdsProxyAcuHour: 0.015,
  rdsProxyMinAcu: 8,
  fargateVcpuHour: { x86_64: 0.04048, arm64: 0.03238 },
  fargateGbHour: { x86_64: 0.004445, arm64: 0.00356 },
  secretMonth: 0.4,
  interfaceEndpointAzHour: 0.01,
  valkeyServerlessGbHour: 0.0837,
  valkeyServerlessMinGb: 0.1,
  lambdaGbSecond: { x86_64: 0.0000166667, arm64: 0.0000133334 },
  lambdaRequestMillion: 0.2,
  sqsRequestMillion: 0.4,
  xrayTraceMillion: 5,
  logsIngestGb: 0.5,
  /** EC2 on-demand, Linux. A type missing here fails the cost test: add its price. */
  ec2InstanceHour: {
    't4g.nano': 0.0042, 't4g.micro': 0.0084, 't4g.small': 0.0168, 't4g.medium': 0.0336,
    't3.nano': 0.0052, 't3.micro': 0.0104, 't3.small': 0.0208, 't3.medium': 0.0416,
  } as Record<string, number>,
  ebsGp3GbMonth: 0.08,
  /** EC2 data transfer out to the internet (first 10 TB tier). */
  dataOutGb: 0.09,
  /** CloudFront HTTPS requests, North America/Europe. */
  cloudfrontRequestMillion: 1.0,
  /** CloudFront Functions invocations (the API requests' X-Forwarded-Host). */
  cloudfrontFunctionMillion: 0.1,
} as const;

/** The root volume an AMI brings when the template states none (Amazon Linux 2023: 8 GB gp3). */
export const DEFAULT_ROOT_VOLUME_GB = 8;

/** Storage assumed for the database at idle. */
export const ASSUMED_DB_STORAGE_GB = 10;

export interface CostLine {
  readonly item: string;
  readonly price: string;
  readonly monthly: number;
}

export interface IdleCost {
  readonly lines: CostLine[];
  readonly total: number;
}

type Resources = Record<string, { Type: string; Properties?: Record<string, any> }>;

const round2 = (n: number) => Math.round(n * 100) / 100;
const perMonth = (hourly: number) => round2(hourly * HOURS_PER_MONTH);

function ofType(resources: Resources, type: string): Record<string, any>[] {
  return Object.values(resources).filter((r) => r.Type === type).map((r) => r.Properties ?? {});
}

/** The task definition of a service (by logical id reference). */
function taskOf(resources: Resources, service: Record<string, any>): Record<string, any> | undefined {
  const ref = service.TaskDefinition?.Ref;
  return ref ? resources[ref]?.Properties : undefined;
}

/** Prices every billable resource of `template` at zero traffic. */
export function idleCost(template: { [key: string]: any }): IdleCost {
  const r = template.Resources as Resources;
  const lines: CostLine[] = [];
  const add = (item: string, price: string, monthly: number) => {
    if (monthly > 0) lines.push({ item, price, monthly: round2(monthly) });
  };

  const nats = ofType(r, 'AWS::EC2::NatGateway').length;
  add(`NAT gateway ×${nats}`, `$${PRICES.natGatewayHour}/h`, nats * perMonth(PRICES.natGatewayHour));

  for (const cluster of ofType(r, 'AWS::RDS::DBCluster')) {
    const scaling = cluster.ServerlessV2ScalingConfiguration;
    if (scaling) {
      const min = Number(scaling.MinCapacity ?? 0.5);
      const pauses = min === 0;
      add(`Aurora Serverless v2 writer at the ${min} ACU floor${pauses ? ' (auto-pause)' : ''}`,
        `$${PRICES.auroraServerlessAcuHour} per ACU-h`, min * perMonth(PRICES.auroraServerlessAcuHour));
    }
    add(`Aurora storage, ~${ASSUMED_DB_STORAGE_GB} GB`, `$${PRICES.auroraStorageGbMonth} per GB-month`,
      ASSUMED_DB_STORAGE_GB * PRICES.auroraStorageGbMonth);
  }

  const proxies = ofType(r, 'AWS::RDS::DBProxy').length;
  add(`RDS Proxy ×${proxies} on Aurora Serverless v2 (billed at a minimum of ${PRICES.rdsProxyMinAcu} ACU)`,
    `$${PRICES.rdsProxyAcuHour} per ACU-h`, proxies * PRICES.rdsProxyMinAcu * perMonth(PRICES.rdsProxyAcuHour));

  for (const service of ofType(r, 'AWS::ECS::Service')) {
    const task = taskOf(r, service);
    if (!task) continue;
    const count = Number(service.DesiredCount ?? 1);
    const vcpu = Number(task.Cpu) / 1024;
    const gb = Number(task.Memory) / 1024;
    const arch = task.RuntimePlatform?.CpuArchitecture === 'ARM64' ? 'arm64' : 'x86_64';
    const spot = (service.CapacityProviderStrategy ?? []).some((s: any) => s.CapacityProvider === 'FARGATE_SPOT');
    const name = task.ContainerDefinitions?.[0]?.Name ?? 'task';
    const hourly = vcpu * PRICES.fargateVcpuHour[arch] + gb * PRICES.fargateGbHour[arch];
    add(`Fargate ${name} ×${count}, ${vcpu} vCPU + ${gb} GB ${arch}${spot ? ' (Spot)' : ''}`,
      `$${PRICES.fargateVcpuHour[arch]} per vCPU-h + $${PRICES.fargateGbHour[arch]} per GB-h`,
      count * perMonth(hourly));
  }

  let publicIps = ofType(r, 'AWS::EC2::EIP').length;
  for (const instance of ofType(r, 'AWS::EC2::Instance')) {
    const type = String(instance.InstanceType);
    const hourly = PRICES.ec2InstanceHour[type];
    if (hourly === undefined) throw new Error(`no price for EC2 instance type ${type}: add it to PRICES.ec2InstanceHour`);
    const nat = instance.SourceDestCheck === false;
    const tag: string = instance.Tags?.find((t: any) => t.Key === 'Name')?.Value ?? 'instance';
    const name = tag.split('/').filter((part) => part !== 'Instance').pop() ?? 'instance';
    add(`EC2 ${nat ? 'NAT instance' : name} ${type}`, `$${hourly}/h`, perMonth(hourly));
    const volumes = (instance.BlockDeviceMappings ?? []).map((b: any) => Number(b.Ebs?.VolumeSize ?? 0));
    const gb = volumes.length > 0 ? volumes.reduce((a: number, b: number) => a + b, 0) : DEFAULT_ROOT_VOLUME_GB;
    add(`EBS gp3 root volume, ${gb} GB (${nat ? 'NAT instance' : name})`, `$${PRICES.ebsGp3GbMonth} per GB-month`,
      gb * PRICES.ebsGp3GbMonth);
    const subnet = r[instance.SubnetId?.Ref]?.Properties;
    if (subnet?.MapPublicIpOnLaunch === true) publicIps += 1;
  }
  for (const lb of ofType(r, 'AWS::ElasticLoadBalancingV2::LoadBalancer')) {
    const network = lb.Type === 'network';
    const scheme = lb.Scheme ?? 'internet-facing';
    add(`${network ? 'Network' : 'Application'} Load Balancer (${scheme})`,
      `$${network ? PRICES.nlbHour : PRICES.albHour}/h`, perMonth(network ? PRICES.nlbHour : PRICES.albHour));
    if (scheme === 'internet-facing') publicIps += (lb.Subnets ?? []).length || 2;
  }
  add(`Public IPv4 addresses ×${publicIps}`, `$${PRICES.publicIpv4Hour}/h each`, publicIps * perMonth(PRICES.publicIpv4Hour));

  const endpoints = ofType(r, 'AWS::EC2::VPCEndpoint').filter((e) => e.VpcEndpointType === 'Interface');
  const endpointAzs = endpoints.reduce((n, e) => n + ((e.SubnetIds ?? []).length || 1), 0);
  add(`Interface VPC endpoints ×${endpoints.length} (${endpointAzs} AZ-hours)`, `$${PRICES.interfaceEndpointAzHour} per AZ-h`,
    endpointAzs * perMonth(PRICES.interfaceEndpointAzHour));

  const secrets = ofType(r, 'AWS::SecretsManager::Secret').length;
  add(`Secrets Manager ×${secrets}`, `$${PRICES.secretMonth} each`, secrets * PRICES.secretMonth);

  const caches = ofType(r, 'AWS::ElastiCache::ServerlessCache').length;
  add(`Valkey Serverless ×${caches} at its ${PRICES.valkeyServerlessMinGb} GB storage floor`,
    `$${PRICES.valkeyServerlessGbHour} per GB-h`, caches * PRICES.valkeyServerlessMinGb * perMonth(PRICES.valkeyServerlessGbHour));

  const total = round2(lines.reduce((n, l) => n + l.monthly, 0));
  return { lines, total };
}

/** Assumptions of the per-turn model (see docs/deploy.md). */
export const TURN_MODEL = {
  iterationsPerTurn: 3,
  workerSecondsPerIteration: 8,
  apiRequestsPerTurn: 5,
  apiSecondsPerRequest: 0.05,
  sqsRequestsPerIteration: 5,
  natGbPerIteration: 0.0001,
  logGbPerTurn: 0.00002,
  /** lean: turns of one conversation, after which the database pauses again. */
  turnsPerConversation: 10,
  /** lean: the 1 SSE stream beside the API requests, through CloudFront. */
  sseRequestsPerTurn: 1,
  /** lean: the capacity a resumed Aurora Serverless v2 runs at while awake. */
  awakeAcu: 0.5,
} as const;

/** $ per 1,000 turns from the stack's settings (Lambda sizes and architecture; the profile's
 * NAT, edge and database). */
export function costPer1000Turns(s: EverrunsSettings): CostLine[] {
  const m = TURN_MODEL;
  const iterations = 1000 * m.iterationsPerTurn;
  const workerGbS = iterations * m.workerSecondsPerIteration * (s.workerMemoryMb / 1024);
  const apiGbS = 1000 * m.apiRequestsPerTurn * m.apiSecondsPerRequest * (s.apiMemoryMb / 1024);
  const gbs = PRICES.lambdaGbSecond[s.architecture];
  const lines: CostLine[] = [
    { item: 'Worker Lambda compute', price: `${workerGbS} GB-s × $${gbs}`, monthly: workerGbS * gbs },
    { item: 'API Lambda compute', price: `${apiGbS} GB-s × $${gbs}`, monthly: apiGbS * gbs },
    { item: 'Lambda requests', price: `${iterations + 1000 * m.apiRequestsPerTurn} × $${PRICES.lambdaRequestMillion}/M`,
      monthly: (iterations + 1000 * m.apiRequestsPerTurn) * PRICES.lambdaRequestMillion / 1e6 },
    { item: 'SQS requests', price: `${iterations * m.sqsRequestsPerIteration} × $${PRICES.sqsRequestMillion}/M`,
      monthly: iterations * m.sqsRequestsPerIteration * PRICES.sqsRequestMillion / 1e6 },
    { item: 'CloudWatch Logs', price: `${1000 * m.logGbPerTurn} GB × $${PRICES.logsIngestGb}`,
      monthly: 1000 * m.logGbPerTurn * PRICES.logsIngestGb },
  ];
  const natGb = Math.round(iterations * m.natGbPerIteration * 1000) / 1000;
  if (s.profile === 'lean') {
    lines.push({ item: 'NAT instance data out (all LLM traffic counted as outbound: an upper bound)',
      price: `${natGb} GB × $${PRICES.dataOutGb}`, monthly: natGb * PRICES.dataOutGb });
    const requests = 1000 * (m.apiRequestsPerTurn + m.sseRequestsPerTurn);
    lines.push({ item: 'CloudFront requests', price: `${requests} × $${PRICES.cloudfrontRequestMillion}/M`,
      monthly: requests * PRICES.cloudfrontRequestMillion / 1e6 });
    const invocations = 1000 * m.apiRequestsPerTurn;
    lines.push({ item: 'CloudFront Function (API requests)', price: `${invocations} × $${PRICES.cloudfrontFunctionMillion}/M`,
      monthly: invocations * PRICES.cloudfrontFunctionMillion / 1e6 });
    const conversations = 1000 / m.turnsPerConversation;
    const awakeSecs = m.turnsPerConversation * m.iterationsPerTurn * m.workerSecondsPerIteration + s.dbAutoPauseSecs;
    const acuHours = Math.round(conversations * awakeSecs / 3600 * m.awakeAcu * 1000) / 1000;
    lines.push({ item: `Aurora awake at ${m.awakeAcu} ACU: ${conversations} conversations × (${m.turnsPerConversation} turns + ` +
      `${s.dbAutoPauseSecs} s before it pauses)`, price: `${acuHours} ACU-h × $${PRICES.auroraServerlessAcuHour}`,
      monthly: acuHours * PRICES.auroraServerlessAcuHour });
  } else if (s.natGateways > 0) {
    lines.push({ item: 'NAT data processing', price: `${natGb} GB × $${PRICES.natGatewayGb}`,
      monthly: natGb * PRICES.natGatewayGb });
  }
  return lines.map((l) => ({ ...l, monthly: Math.round(l.monthly * 1000) / 1000 }));
}

/** The same platform on always-on containers (two server and two worker tasks of 0.5 vCPU +
 * 1 GB x86, the ALB, a NAT gateway, Aurora at its 0.5 ACU floor, three public IPv4 addresses,
 * three secrets), priced from the same table: idle $/month and $ per 1,000 turns (NAT, logs). */
export function containersCost(): { idle: number; per1000: number } {
  const task = perMonth(0.5 * PRICES.fargateVcpuHour.x86_64 + 1 * PRICES.fargateGbHour.x86_64);
  const idle = 4 * task + perMonth(PRICES.albHour) + perMonth(PRICES.natGatewayHour)
    + 0.5 * perMonth(PRICES.auroraServerlessAcuHour) + ASSUMED_DB_STORAGE_GB * PRICES.auroraStorageGbMonth
    + 3 * perMonth(PRICES.publicIpv4Hour) + 3 * PRICES.secretMonth;
  const m = TURN_MODEL;
  const per1000 = 1000 * m.iterationsPerTurn * m.natGbPerIteration * PRICES.natGatewayGb + 1000 * m.logGbPerTurn * PRICES.logsIngestGb;
  return { idle: round2(idle), per1000: Math.round(per1000 * 1000) / 1000 };
}

/** Thousands of turns a month up to which the split costs less than the containers: null when
 * it costs more even at idle, Infinity when its marginal cost is no higher either. */
export function breakEvenThousands(idle: number, per1000: number): number | null {
  const containers = containersCost();
  if (idle >= containers.idle) return null;
  if (per1000 <= containers.per1000) return Infinity;
  return Math.round((containers.idle - idle) / (per1000 - containers.per1000));
}

/** The markdown table of an idle cost. */
export function idleTable(cost: IdleCost): string {
  const rows = cost.lines.map((l) => `| ${l.item} | ${l.price} | ${l.monthly.toFixed(2)} |`);
  return ['| Resource (from the synthesized template) | Price | $/month |', '|---|---|---|', ...rows,
    `| **Total** | | **${cost.total.toFixed(2)}** |`].join('\n');
}

/** The markdown table of the per-1,000-turn model. */
export function turnsTable(lines: CostLine[]): string {
  const total = lines.reduce((n, l) => n + l.monthly, 0);
  const rows = lines.map((l) => `| ${l.item} | ${l.price} | ${l.monthly.toFixed(3)} |`);
  return ['| Item | Arithmetic | $ per 1,000 turns |', '|---|---|---|', ...rows,
    `| **Total** | | **${total.toFixed(3)}** |`].join('\n');
}
