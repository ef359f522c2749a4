import { readdirSync } from "node:fs";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Job } from "kubernetes-models/batch/v1/Job";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import {
  BASE_DIR,
  BUILT_FILES,
  byKind,
  containersOf,
  envValue,
  labelsMatch,
  loadBase,
  podLabels,
  type Manifest,
} from "./manifests.js";

/** The schema each kind is checked against: Kubernetes 1.3x, KEDA 2, Prometheus Operator. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  "v1/ConfigMap": ConfigMap,
  "v1/Secret": Secret,
  "v1/Service": Service,
  "v1/ServiceAccount": ServiceAccount,
  "apps/v1/Deployment": Deployment,
  "batch/v1/Job": Job,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
  "keda.sh/v1alpha1/ScaledObject": ScaledObject,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
};

/** A pool's provider → the one key its workers get. */
const POOL_KEYS: Record<string, string> = {
  openai: "OPENAI_API_KEY",
  anthropic: "ANTHROPIC_API_KEY",
  google: "GEMINI_API_KEY",
};

const base = loadBase();
const deployments = byKind(base.manifests, "Deployment");
const workers = deployments.filter((d) => podLabels(d)["app.kubernetes.io/component"] === "worker");
const config = byKind(base.manifests, "ConfigMap")[0]!.data as Record<string, string>;

describe("infra/k8s/base", () => {
  it("lists every manifest file in kustomization.yaml, and each exists", () => {
    const files = readdirSync(BASE_DIR).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml");
    expect([...base.resources].sort()).toEqual(files.sort());
  });

  it.each(base.manifests.map((m) => [`${m.kind} ${m.metadata.name}`, m] as const))(
    "%s is valid against its schema",
    (_name, manifest) => {
      const Model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
      expect(Model).toBeDefined();
      expect(() => new Model!(manifest as never).validate()).not.toThrow();
    },
  );

  it("would catch a manifest its schema does not allow", () => {
    const [deployment] = byKind(base.manifests, "Deployment");
    const broken = structuredClone(deployment!) as unknown as { spec: { replicas: unknown } };
    broken.spec.replicas = "two";
    expect(() => new Deployment(broken as never).validate()).toThrow(/replicas/);
    const [scaled] = byKind(base.manifests, "ScaledObject");
    const untargeted = { ...scaled!, spec: { ...scaled!.spec, scaleTargetRef: undefined } };
    expect(() => new ScaledObject(untargeted as never).validate()).toThrow(/scaleTargetRef/);
  });

  it("has one worker Deployment per pool, api and scheduler, and a migration Job running built files", () => {
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(
      ["api", "scheduler", ...Object.keys(POOL_KEYS).map((p) => `worker-${p}`)].sort(),
    );
    const jobs = byKind(base.manifests, "Job");
    expect(jobs.map((j) => containersOf(j)[0]?.command)).toEqual([["node", "migrate.mjs"]]);
    for (const workload of [...deployments, ...jobs]) {
      for (const container of containersOf(workload)) {
        expect(container.image).toBe(base.image);
        expect(container.command?.[0]).toBe("node");
        expect(BUILT_FILES).toContain(container.command?.[1]);
      }
    }
  });

  it("runs every pod as non-root on a read-only root filesystem, with no privileges and no API token", () => {
    for (const workload of [...deployments, ...byKind(base.manifests, "Job")]) {
      const pod = workload.spec.template.spec;
      expect([workload.metadata.name, pod.securityContext?.runAsNonRoot]).toEqual([workload.metadata.name, true]);
      expect(pod.securityContext?.runAsUser).toBeGreaterThan(0);
      expect(pod.automountServiceAccountToken).toBe(false);
      for (const container of containersOf(workload)) {
        expect(container.securityContext).toMatchObject({
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ["ALL"] },
        });
        expect(container.resources?.requests).toEqual(
          expect.objectContaining({ cpu: expect.any(String), memory: expect.any(String) }),
        );
        expect(container.resources?.limits?.memory).toEqual(expect.any(String));
      }
    }
  });

  it("probes each long-running process on its health port, and stops it after a preStop hook within the grace period", () => {
    for (const deployment of deployments) {
      const [container] = containersOf(deployment);
      const portNames = (container?.ports ?? []).map((p) => p.name);
      const role = podLabels(deployment)["app.kubernetes.io/component"];
      // The API's probes are on PORT, for the load balancer; worker and scheduler serve them on
      // HEALTH_PORT, the "metrics" port, where every process (the API too) serves its metrics.
      const port = role === "api" ? "http" : "metrics";
      const declared = container?.ports?.find((p) => p.name === "metrics")?.containerPort;
      expect(String(declared)).toBe(config.HEALTH_PORT);
      expect(portNames).toContain(port);
      expect(container?.livenessProbe?.httpGet).toEqual({ path: "/healthz", port });
      expect(container?.readinessProbe?.httpGet).toEqual({ path: "/readyz", port });
      const preStop = container?.lifecycle?.preStop?.exec?.command ?? [];
      expect(preStop[0]).toBe("sleep");
      const drainSeconds = Number(envValue(container!, "DRAIN_MS") ?? "30000") / 1000;
      expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(
        Number(preStop[1]) + drainSeconds,
      );
    }
  });

  it("covers every Deployment with a PodDisruptionBudget", () => {
    const budgets = byKind(base.manifests, "PodDisruptionBudget");
    for (const deployment of deployments) {
      const covering = budgets.filter((b) => labelsMatch(b.spec.selector.matchLabels, podLabels(deployment)));
      expect([deployment.metadata.name, covering.length]).toEqual([deployment.metadata.name, 1]);
    }
  });

  it("keeps the worker pools identical but for their provider, each with its own key alone", () => {
    const normalize = (provider: string, manifests: Manifest[]): string =>
      JSON.stringify(manifests).replaceAll(POOL_KEYS[provider]!, "<KEY>").replaceAll(provider, "<provider>");
    const ofPool = (provider: string): Manifest[] =>
      base.manifests.filter((m) => m.metadata.name === `worker-${provider}`);
    for (const provider of Object.keys(POOL_KEYS)) {
      expect(normalize(provider, ofPool(provider))).toBe(normalize("openai", ofPool("openai")));
      const [container] = containersOf(workers.find((w) => w.metadata.name === `worker-${provider}`)!);
      expect(envValue(container!, "WORKER_PROVIDERS")).toBe(provider);
      const keys = (container?.env ?? []).filter((e) => e.name.endsWith("_API_KEY")).map((e) => e.name);
      expect(keys).toEqual([POOL_KEYS[provider]]);
    }
  });

  it("scales each pool with KEDA on its own queue's waiting (prioritized included) and running steps, from zero", () => {
    const scaled = byKind(base.manifests, "ScaledObject");
    expect(scaled.map((s) => s.spec.scaleTargetRef.name).sort()).toEqual(workers.map((w) => w.metadata.name).sort());
    for (const object of scaled) {
      const worker = workers.find((w) => w.metadata.name === object.spec.scaleTargetRef.name)!;
      const [container] = containersOf(worker);
      expect(worker.spec.replicas).toBeUndefined();
      expect(object.spec.minReplicaCount).toBe(0);
      // The scheduler's GET /queues counts a queue's waiting jobs with its prioritized ones
      // (a sorted set a redis list trigger cannot read) and its running ones.
      const provider = envValue(container!, "WORKER_PROVIDERS");
      const scheduler = deployments.find((d) => podLabels(d)["app.kubernetes.io/component"] === "scheduler")!;
      const schedulerMetrics = byKind(base.manifests, "Service").find(
        (svc) =>
          svc.spec.selector?.["app.kubernetes.io/component"] === "scheduler" &&
          svc.spec.ports.some((port) => port.name === "metrics"),
      )!;
      const metricsPort = containersOf(scheduler)[0]?.ports?.find((p) => p.name === "metrics")?.containerPort;
      const queuesUrl = `http://${schedulerMetrics.metadata.name}.${base.namespace}.svc:${metricsPort}/queues`;
      const counted = Object.fromEntries(
        object.spec.triggers.map((trigger) => {
          expect(trigger.type).toBe("metrics-api");
          expect(trigger.metadata.url).toBe(queuesUrl);
          return [trigger.name, trigger.metadata.valueLocation];
        }),
      );
      expect(counted).toEqual({ waiting: `steps-${provider}.waiting`, active: `steps-${provider}.active` });
      // One replica per WORKER_CONCURRENCY steps waiting or running: a pool busy with slow calls is not scaled in.
      const modifiers = object.spec.advanced?.scalingModifiers;
      expect(modifiers?.formula?.replace(/\s+/g, "")).toBe("waiting+active");
      expect(modifiers?.target).toBe(envValue(container!, "WORKER_CONCURRENCY"));
      expect(modifiers?.metricType).toBe("AverageValue");
    }
  });

  it("refers only to ConfigMaps, Secrets and variables it defines", () => {
    const secrets = byKind(base.manifests, "Secret").map((s) => s.metadata.name);
    const configMaps = byKind(base.manifests, "ConfigMap").map((c) => c.metadata.name);
    for (const workload of [...deployments, ...byKind(base.manifests, "Job")]) {
      for (const container of containersOf(workload)) {
        for (const source of container.envFrom ?? []) expect(configMaps).toContain(source.configMapRef?.name);
        const defined = new Set([
          ...(container.envFrom?.length ? Object.keys(config) : []),
          ...(container.env ?? []).map((e) => e.name),
        ]);
        for (const variable of container.env ?? []) {
          if (variable.valueFrom?.secretKeyRef) expect(secrets).toContain(variable.valueFrom.secretKeyRef.name);
          for (const [, name] of (variable.value ?? "").matchAll(/\$\(([A-Z_]+)\)/g)) expect(defined).toContain(name);
        }
      }
    }
  });

  it("routes each Service to pods and ports that exist, and Prometheus to every metrics port", () => {
    const services = byKind(base.manifests, "Service");
    const [monitor] = byKind(base.manifests, "ServiceMonitor");
    const scrapedPorts = monitor!.spec.endpoints.map((e) => e.port);
    for (const service of services) {
      const targets = deployments.filter((d) => labelsMatch(service.spec.selector, podLabels(d)));
      expect([service.metadata.name, targets.length > 0]).toEqual([service.metadata.name, true]);
      for (const port of service.spec.ports) {
        for (const target of targets) {
          expect(containersOf(target)[0]?.ports?.map((p) => p.name)).toContain(port.targetPort);
        }
        if (port.name === "metrics") {
          expect(labelsMatch(monitor!.spec.selector.matchLabels, service.metadata.labels ?? {})).toBe(true);
          expect(scrapedPorts).toContain("metrics");
        }
      }
    }
  });

  it("admits to the metrics ports only the monitoring namespace (and KEDA to the scheduler's), and denies the rest by default", () => {
    const policies = byKind(base.manifests, "NetworkPolicy");
    expect(
      policies.some((p) => Object.keys(p.spec.podSelector).length === 0 && p.spec.policyTypes?.includes("Ingress")),
    ).toBe(true);
    const metricsRules = policies.flatMap((p) =>
      (p.spec.ingress ?? []).filter((rule) => rule.ports?.some((port) => port.port === "metrics")),
    );
    expect(metricsRules.length).toBeGreaterThan(0);
    // Prometheus scrapes every metrics port; KEDA reads the scheduler's /queues on it.
    const fromNamespace = (name: string) => [
      { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": name } } },
    ];
    for (const policy of policies) {
      for (const rule of (policy.spec.ingress ?? []).filter((r) => r.ports?.some((port) => port.port === "metrics"))) {
        const keda = policy.spec.podSelector.matchLabels?.["app.kubernetes.io/component"] === "scheduler";
        expect(rule.from).toEqual(fromNamespace(keda ? "keda" : "monitoring"));
      }
    }
    // Every pod with a metrics port is selected by such a rule's policy.
    for (const deployment of deployments.filter((d) => containersOf(d)[0]?.ports?.some((p) => p.name === "metrics"))) {
      const role = podLabels(deployment)["app.kubernetes.io/component"];
      const guarded = policies.some(
        (p) =>
          p.spec.ingress?.some((rule) => rule.ports?.some((port) => port.port === "metrics")) &&
          p.spec.podSelector.matchExpressions?.some((e) => e.values?.includes(role!)),
      );
      expect([deployment.metadata.name, guarded]).toEqual([deployment.metadata.name, true]);
    }
  });
});
