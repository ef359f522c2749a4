import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse, parseAllDocuments } from "yaml";

export const REPO_ROOT = resolve(__dirname, "../../..");
export const BASE_DIR = join(REPO_ROOT, "infra/k8s/base");

/** What `pnpm build` puts beside node_modules: one file per role (scripts/entry-points.json). */
export const BUILT_FILES = Object.keys(
  JSON.parse(readFileSync(join(REPO_ROOT, "scripts/entry-points.json"), "utf8")) as Record<string, string>,
).map((role) => `${role}.mjs`);

/* The shapes below are what these tests read; the schemas (k8s.test.ts) check the rest. */

export type Labels = Record<string, string>;

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } };
}

export interface Probe {
  httpGet?: { path: string; port: string | number };
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string } }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command?: string[] } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
}

export interface PodTemplate {
  metadata: { labels: Labels };
  spec: {
    containers: Container[];
    securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
    automountServiceAccountToken?: boolean;
    terminationGracePeriodSeconds?: number;
  };
}

interface Meta {
  apiVersion: string;
  metadata: { name: string; labels?: Labels };
}

export interface Workload extends Meta {
  kind: "Deployment" | "Job";
  spec: { replicas?: number; template: PodTemplate };
}

interface PolicyRule {
  from?: unknown[];
  ports?: { port: string | number }[];
}

interface ByKind {
  Deployment: Workload;
  Job: Workload;
  ConfigMap: Meta & { data: Labels };
  Secret: Meta;
  ServiceAccount: Meta;
  Service: Meta & { spec: { selector: Labels; ports: { name: string; port: number; targetPort: string }[] } };
  PodDisruptionBudget: Meta & { spec: { selector: { matchLabels: Labels } } };
  NetworkPolicy: Meta & {
    spec: {
      podSelector: { matchLabels?: Labels; matchExpressions?: { key: string; values?: string[] }[] };
      policyTypes?: string[];
      ingress?: PolicyRule[];
    };
  };
  ScaledObject: Meta & {
    spec: {
      scaleTargetRef: { name: string };
      minReplicaCount?: number;
      triggers: { type: string; name?: string; metadata: Record<string, string> }[];
      advanced?: { scalingModifiers?: { formula?: string; target?: string; metricType?: string } };
    };
  };
  ServiceMonitor: Meta & { spec: { selector: { matchLabels: Labels }; endpoints: { port: string }[] } };
}

export type Manifest = ByKind[keyof ByKind] & { kind: keyof ByKind };

export interface Base {
  /** kustomization.yaml's resources. */
  resources: string[];
  /** The image name the kustomization's `images` rewrites. */
  image: string;
  /** The namespace the kustomization puts every object in. */
  namespace: string;
  manifests: Manifest[];
}

/** Every document of every file kustomization.yaml lists (the base has no patches to apply). */
export function loadBase(): Base {
  const kustomization = parse(readFileSync(join(BASE_DIR, "kustomization.yaml"), "utf8")) as {
    resources: string[];
    images: { name: string }[];
    namespace: string;
  };
  const manifests = kustomization.resources.flatMap((file) =>
    parseAllDocuments(readFileSync(join(BASE_DIR, file), "utf8"))
      .map((doc) => doc.toJS() as Manifest | null)
      .filter((doc): doc is Manifest => doc !== null),
  );
  return {
    resources: kustomization.resources,
    image: kustomization.images[0]!.name,
    namespace: kustomization.namespace,
    manifests,
  };
}

export function byKind<K extends keyof ByKind>(manifests: Manifest[], kind: K): ByKind[K][] {
  return manifests.filter((m) => m.kind === kind) as ByKind[K][];
}

export function containersOf(workload: Workload): Container[] {
  return workload.spec.template.spec.containers;
}

export function podLabels(workload: Workload): Labels {
  return workload.spec.template.metadata.labels;
}

export function envValue(container: Container, name: string): string | undefined {
  return container.env?.find((e) => e.name === name)?.value;
}

/** True when every label of `selector` is on `labels`. */
export function labelsMatch(selector: Labels | undefined, labels: Labels): boolean {
  return Object.entries(selector ?? {}).every(([key, value]) => labels[key] === value);
}
