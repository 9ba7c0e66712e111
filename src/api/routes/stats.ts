import type { FastifyInstance } from 'fastify';
import { PinacledError } from '../../errors.js';
import type { PodSample, StatsCollector } from '../../metrics/collector.js';
import { currentSample } from '../../metrics/pod-metrics.js';
import type { PodService } from '../../pods/service.js';
import { podIdParams } from '../schemas.js';
import { parse } from '../validate.js';

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

/** The API shape of a stats sample (openapi.yaml `PodStats`); null where nothing is known yet. */
export function statsView(podId: string, s: PodSample | undefined) {
  const cores = s?.cpuCores ?? null;
  const limit = s?.cpuLimitCores ?? null;
  return {
    podId,
    cpuCores: cores === null ? null : round(cores, 4),
    // Share of the pod's CPU limit (100 = the whole limit); cpuCores * 100 is Docker's CPU %.
    cpuPercent: cores === null || !limit ? null : round((cores / limit) * 100, 2),
    cpuLimitCores: limit,
    cpuUsageSeconds: s ? round(s.cpuUsageSeconds, 6) : null,
    memoryUsageBytes: s?.memoryUsageBytes ?? null,
    memoryWorkingSetBytes: s?.memoryWorkingSetBytes ?? null,
    memoryLimitBytes: s?.memoryLimitBytes ?? null,
    networkRxBytes: s?.networkRxBytes ?? null,
    networkTxBytes: s?.networkTxBytes ?? null,
    pids: s?.pids ?? null,
    pidsLimit: s?.pidsLimit ?? null,
    oomKills: s?.oomKills ?? null,
    source: s?.source ?? null,
    sampledAt: s ? new Date(s.sampledAtMs).toISOString() : null,
  };
}

/** Served from the collector's memory: no engine call on this path. */
export function statsRoutes(app: FastifyInstance, service: PodService, collector: Pick<StatsCollector, 'latest'>): void {
  app.get('/v1/pods/:id/stats', async (req) => {
    const pod = service.get(parse(podIdParams, req.params, 'params').id);
    if (pod.state !== 'running') {
      throw new PinacledError('PINACLED_ERR_POD_NOT_RUNNING', `Pod ${pod.id} is ${pod.state}; usage is sampled only while it runs`);
    }
    return statsView(pod.id, currentSample(pod, collector.latest(pod.id)));
  });
}
