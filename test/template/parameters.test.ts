import { expect } from 'chai';
import { AE_TITLE, AE_TITLE_LIST, OPTIONAL_CIDR, OPTIONAL_DATASTORE_ID, UID_LIST } from '../../template-src/patterns';
import { productTemplate, type Json } from './template-fixture';

/** REFERENCE §1: names, types and defaults users already know ("—" = required → undefined). */
const REFERENCE_PARAMETERS: Record<string, [type: string, def: string | undefined]> = {
  VpcID: ['AWS::EC2::VPC::Id', undefined],
  PublicSubnetIDs: ['List<AWS::EC2::Subnet::Id>', undefined],
  PrivateSubnetIDs: ['List<AWS::EC2::Subnet::Id>', undefined],
  SecurityGroupID: ['String', ''],
  VpcCIDR: ['String', ''],
  SCPAETitle: ['String', 'STORESCP'],
  SCPPort: ['Number', '11112'],
  PeerCIDR1: ['String', ''],
  PeerCIDR2: ['String', ''],
  PeerCIDR3: ['String', ''],
  RequireCalledAETitle: ['String', 'false'],
  RequireCallingAETitle: ['String', ''],
  TaskCPU: ['Number', '1024'],
  TaskMemoryLimit: ['Number', '2048'],
  TaskDesiredCount: ['Number', '1'],
  AutoscaleMaxCapacity: ['Number', '3'],
  TLSCertificateARN: ['String', ''],
  DIMSETimeout: ['Number', '60'],
  MaximumAssociations: ['Number', '300'],
  NetworkTimeout: ['Number', '90'],
  SupportedSOPClassUIDs: ['String', ''],
};

const matches = (pattern: string, value: string) => new RegExp(pattern).test(value);

describe('template parameters', () => {
  const template = productTemplate();
  const parameters = template.Parameters as Record<string, Json>;
  const ui = template.Metadata['AWS::CloudFormation::Interface'];

  it('keeps every parameter name, type and default of the deployment guide', () => {
    for (const [name, [type, def]] of Object.entries(REFERENCE_PARAMETERS)) {
      expect(parameters, name).to.have.property(name);
      expect(parameters[name].Type, `${name} type`).to.equal(type);
      expect(parameters[name].Default === undefined ? undefined : String(parameters[name].Default), `${name} default`).to.equal(def);
    }
  });

  it('has no AvailabilityZones parameter (the subnets already say it)', () => {
    expect(parameters).not.to.have.property('AvailabilityZones');
  });

  it('puts every parameter in exactly one console group and gives it a label', () => {
    const grouped = (ui.ParameterGroups as Json[]).flatMap((g) => g.Parameters as string[]);
    expect([...grouped].sort()).to.deep.equal(Object.keys(parameters).sort());
    expect(new Set(grouped).size).to.equal(grouped.length);
    for (const name of Object.keys(parameters)) {
      expect(ui.ParameterLabels[name]?.default, `label of ${name}`).to.be.a('string').and.not.empty;
    }
  });

  it('describes every parameter and explains every pattern or range', () => {
    for (const [name, p] of Object.entries(parameters)) {
      expect(p.Description, `${name} description`).to.be.a('string').with.length.above(20);
      if (p.AllowedPattern !== undefined || p.MinValue !== undefined) {
        expect(p.ConstraintDescription, `${name} ConstraintDescription`).to.be.a('string').with.length.above(10);
      }
    }
  });

  it('lets every optional pattern accept its empty default', () => {
    for (const [name, p] of Object.entries(parameters)) {
      if (p.AllowedPattern !== undefined && p.Default !== undefined) {
        expect(matches(p.AllowedPattern, String(p.Default)), `${name} default vs pattern`).to.equal(true);
      }
    }
  });

  it('refuses 0.0.0.0/0 and other too-wide sender ranges, accepts a hospital range', () => {
    expect(matches(OPTIONAL_CIDR.pattern, '0.0.0.0/0')).to.equal(false);
    expect(matches(OPTIONAL_CIDR.pattern, '0.0.0.0/1')).to.equal(false);
    expect(matches(OPTIONAL_CIDR.pattern, '10.0.0.0/16')).to.equal(true);
    expect(matches(OPTIONAL_CIDR.pattern, '203.0.113.7/32')).to.equal(true);
    expect(matches(OPTIONAL_CIDR.pattern, '256.0.0.0/24')).to.equal(false);
    for (const name of ['VpcCIDR', 'PeerCIDR1', 'PeerCIDR2', 'PeerCIDR3']) {
      expect(parameters[name].AllowedPattern, name).to.equal(OPTIONAL_CIDR.pattern);
    }
  });

  it('accepts DICOM AE titles and refuses backslash, all-space and over-long ones', () => {
    expect(matches(AE_TITLE.pattern, 'STORESCP')).to.equal(true);
    expect(matches(AE_TITLE.pattern, 'MY HOSPITAL')).to.equal(true);
    expect(matches(AE_TITLE.pattern, '   ')).to.equal(false);
    expect(matches(AE_TITLE.pattern, 'A\\B')).to.equal(false);
    expect(matches(AE_TITLE.pattern, 'A'.repeat(17))).to.equal(false);
    expect(matches(AE_TITLE_LIST.pattern, 'CT01,MR01')).to.equal(true);
    expect(matches(AE_TITLE_LIST.pattern, 'CT01,,MR01')).to.equal(false);
    expect(matches(AE_TITLE_LIST.pattern, 'CT01, ')).to.equal(false);
  });

  it('accepts UID lists and HealthImaging data store ids only in their real shape', () => {
    expect(matches(UID_LIST.pattern, '1.2.840.10008.5.1.4.1.1.2,1.2.840.10008.5.1.4.1.1.4')).to.equal(true);
    expect(matches(UID_LIST.pattern, '1.2.03')).to.equal(false);
    expect(matches(OPTIONAL_DATASTORE_ID.pattern, 'a'.repeat(32))).to.equal(true);
    expect(matches(OPTIONAL_DATASTORE_ID.pattern, 'a'.repeat(31))).to.equal(false);
  });

  it('offers only Fargate CPU sizes and CloudWatch retention values', () => {
    expect(parameters.TaskCPU.AllowedValues).to.deep.equal(['1024', '2048', '4096']);
    expect(parameters.LogRetentionDays.AllowedValues).to.include.members(['30', '365', '3653']);
    expect(parameters.LogRetentionDays.AllowedValues).not.to.include('0');
  });
});
