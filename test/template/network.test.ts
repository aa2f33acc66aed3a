import { expect } from 'chai';
import {
  createdResources,
  evaluateConditions,
  productTemplate,
  resolveIfs,
  resource,
  resourcesOfType,
  type Json,
} from './template-fixture';

const SENDER_PARAMETERS = ['VpcCIDR', 'PeerCIDR1', 'PeerCIDR2', 'PeerCIDR3'];
const NLB_SG = { 'Fn::GetAtt': ['LoadBalancerSecurityGroup', 'GroupId'] };
const SERVICE_SG = { 'Fn::GetAtt': ['ServiceSecurityGroup', 'GroupId'] };

/** Every ingress rule of the template: standalone resources and inline rules. */
function ingressRules(template: Json): Array<{ id: string; rule: Json; condition?: string }> {
  const standalone = resourcesOfType(template, 'AWS::EC2::SecurityGroupIngress').map(([id, r]) => ({
    id,
    rule: r.Properties,
    condition: r.Condition,
  }));
  const inline = resourcesOfType(template, 'AWS::EC2::SecurityGroup').flatMap(([id, r]) =>
    ((r.Properties.SecurityGroupIngress ?? []) as Json[]).map((rule) => ({ id, rule })),
  );
  return [...standalone, ...inline];
}

describe('template network and load balancer', () => {
  const template = productTemplate();

  it('never admits 0.0.0.0/0 or ::/0', () => {
    for (const { id, rule } of ingressRules(template)) {
      expect(JSON.stringify(rule), id).not.to.match(/0\.0\.0\.0\/0|::\/0/);
    }
  });

  it('traces every ingress rule to VpcCIDR, a PeerCIDR or the load balancer security group', () => {
    const rules = ingressRules(template);
    expect(rules).to.have.length(6);
    for (const { id, rule, condition } of rules) {
      if (rule.CidrIp !== undefined) {
        const source = rule.CidrIp.Ref as string;
        expect(SENDER_PARAMETERS, id).to.include(source);
        expect(condition, `${id} exists only when ${source} is given`).to.equal(`${source}Given`);
        expect(rule.GroupId).to.deep.equal(NLB_SG);
        expect(rule.FromPort).to.deep.equal({ Ref: 'SCPPort' });
        expect(rule.ToPort).to.deep.equal({ Ref: 'SCPPort' });
      } else {
        expect(rule.SourceSecurityGroupId, id).to.deep.equal(NLB_SG);
        expect(rule.GroupId, id).to.deep.equal(SERVICE_SG);
        expect([11112, 8081], id).to.include(rule.FromPort);
      }
      expect(rule.CidrIpv6, id).to.equal(undefined);
    }
  });

  it('creates one sender rule per non-empty CIDR parameter', () => {
    const created = createdResources(template, { PeerCIDR1: '203.0.113.0/24', PeerCIDR3: '198.51.100.0/24' });
    expect(created.has('LoadBalancerIngressPeerCIDR1')).to.equal(true);
    expect(created.has('LoadBalancerIngressPeerCIDR2')).to.equal(false);
    expect(created.has('LoadBalancerIngressPeerCIDR3')).to.equal(true);
    expect(created.has('LoadBalancerIngressVpcCIDR')).to.equal(false);
  });

  it('lets the tasks open HTTPS connections only, and the load balancer reach only the tasks', () => {
    const serviceEgress = resource(template, 'ServiceSecurityGroup').Properties.SecurityGroupEgress as Json[];
    expect(serviceEgress).to.have.length(1);
    expect(serviceEgress[0]).to.include({ IpProtocol: 'tcp', FromPort: 443, ToPort: 443 });
    const lbEgress = resource(template, 'LoadBalancerSecurityGroup').Properties.SecurityGroupEgress as Json[];
    expect(lbEgress.map((e) => e.FromPort).sort()).to.deep.equal([11112, 8081].sort());
    for (const e of lbEgress) expect(e.DestinationSecurityGroupId).to.deep.equal(SERVICE_SG);
    expect(resourcesOfType(template, 'AWS::EC2::SecurityGroupEgress')).to.have.length(0);
  });

  it('serves plain TCP without a certificate and TLS 1.2+ with one', () => {
    const listener = resource(template, 'Listener').Properties;
    const tcp = resolveIfs(listener, evaluateConditions(template, {}));
    expect(tcp.Protocol).to.equal('TCP');
    expect(tcp.Certificates).to.deep.equal({ Ref: 'AWS::NoValue' });
    const arn = 'arn:aws:acm:eu-west-1:111122223333:certificate/12345678-1234-1234-1234-123456789012';
    const tls = resolveIfs(listener, evaluateConditions(template, { TLSCertificateARN: arn }));
    expect(tls.Protocol).to.equal('TLS');
    expect(tls.Certificates).to.deep.equal([{ CertificateArn: { Ref: 'TLSCertificateARN' } }]);
    expect(tls.SslPolicy).to.deep.equal({ Ref: 'TLSSecurityPolicy' });
    for (const policy of template.Parameters.TLSSecurityPolicy.AllowedValues as string[]) expect(policy).to.match(/^ELBSecurityPolicy-TLS13-1-2-/);
    expect(listener.Port).to.deep.equal({ Ref: 'SCPPort' });
  });

  it('places the load balancer by scheme: public subnets when internet-facing, private when internal', () => {
    const lb = resource(template, 'LoadBalancer').Properties;
    const pub = resolveIfs(lb, evaluateConditions(template, {}));
    expect(pub.Scheme).to.equal('internet-facing');
    expect(pub.Subnets).to.deep.equal({ Ref: 'PublicSubnetIDs' });
    const internal = resolveIfs(lb, evaluateConditions(template, { LoadBalancerScheme: 'internal' }));
    expect(internal.Scheme).to.equal('internal');
    expect(internal.Subnets).to.deep.equal({ Ref: 'PrivateSubnetIDs' });
    expect(lb.SecurityGroups).to.deep.equal([NLB_SG]);
  });

  it('turns on cross-zone load balancing and access logs', () => {
    const attributes = Object.fromEntries(
      (resource(template, 'LoadBalancer').Properties.LoadBalancerAttributes as Json[]).map((a) => [a.Key, a.Value]),
    );
    expect(attributes['load_balancing.cross_zone.enabled']).to.equal('true');
    expect(attributes['access_logs.s3.enabled']).to.equal('true');
    expect(attributes['access_logs.s3.bucket']).to.deep.equal({ Ref: 'LogBucket' });
  });

  it('health-checks the tasks over HTTP on /health:8081, preserves client IPs, drains for 120 s', () => {
    const tg = resource(template, 'TargetGroup').Properties;
    expect(tg).to.include({ TargetType: 'ip', Protocol: 'TCP', HealthCheckProtocol: 'HTTP', HealthCheckPort: '8081', HealthCheckPath: '/health' });
    expect(tg.Matcher).to.deep.equal({ HttpCode: '200' });
    const attributes = Object.fromEntries((tg.TargetGroupAttributes as Json[]).map((a) => [a.Key, a.Value]));
    expect(attributes['preserve_client_ip.enabled']).to.equal('true');
    expect(attributes['deregistration_delay.timeout_seconds']).to.equal('120');
  });

  it('runs the tasks in the private subnets without public IPs, with the optional extra security group', () => {
    const service = resource(template, 'Service');
    const net = service.Properties.NetworkConfiguration.AwsvpcConfiguration;
    expect(net.AssignPublicIp).to.equal('DISABLED');
    expect(net.Subnets).to.deep.equal({ Ref: 'PrivateSubnetIDs' });
    expect(resolveIfs(net, evaluateConditions(template, {})).SecurityGroups).to.deep.equal([SERVICE_SG]);
    const withExtra = resolveIfs(net, evaluateConditions(template, { SecurityGroupID: 'sg-0123456789abcdef0' }));
    expect(withExtra.SecurityGroups).to.deep.equal([SERVICE_SG, { Ref: 'SecurityGroupID' }]);
    expect(service.DependsOn).to.include('Listener');
  });
});
