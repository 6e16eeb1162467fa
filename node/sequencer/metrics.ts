/** Prometheus text exposition for the sequencer: counters and one latency histogram. */

const BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export class SequencerMetrics {
  private ingested = 0;
  private duplicates = 0;
  private batches = 0;
  private readonly rejects = new Map<string, number>();
  private readonly http = new Map<string, number>();
  private readonly bucketCounts = BUCKETS_SECONDS.map(() => 0);
  private latencySum = 0;
  private latencyCount = 0;

  eventsIngested(n: number): void {
    this.ingested += n;
  }

  duplicatesReturned(n: number): void {
    this.duplicates += n;
  }

  batchIngested(seconds: number): void {
    this.batches += 1;
    this.latencySum += seconds;
    this.latencyCount += 1;
    BUCKETS_SECONDS.forEach((le, i) => {
      if (seconds <= le) this.bucketCounts[i] = (this.bucketCounts[i] ?? 0) + 1;
    });
  }

  rejected(reason: string, n = 1): void {
    this.rejects.set(reason, (this.rejects.get(reason) ?? 0) + n);
  }

  request(route: string, status: number): void {
    const key = `${route}\u0000${status}`;
    this.http.set(key, (this.http.get(key) ?? 0) + 1);
  }

  render(): string {
    const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
    const lines = [
      '# HELP ves_events_ingested_total Events newly sequenced.',
      '# TYPE ves_events_ingested_total counter',
      `ves_events_ingested_total ${this.ingested}`,
      '# HELP ves_events_duplicate_total Replayed events answered with their original sequence number.',
      '# TYPE ves_events_duplicate_total counter',
      `ves_events_duplicate_total ${this.duplicates}`,
      '# HELP ves_ingest_batches_total Ingest batches committed.',
      '# TYPE ves_ingest_batches_total counter',
      `ves_ingest_batches_total ${this.batches}`,
      '# HELP ves_events_rejected_total Events or requests rejected, by reason.',
      '# TYPE ves_events_rejected_total counter',
      ...[...this.rejects].map(([r, n]) => `ves_events_rejected_total{reason="${esc(r)}"} ${n}`),
      '# HELP ves_ingest_latency_seconds Time to validate and sequence one ingest batch.',
      '# TYPE ves_ingest_latency_seconds histogram',
      ...BUCKETS_SECONDS.map(
        (le, i) => `ves_ingest_latency_seconds_bucket{le="${le}"} ${this.bucketCounts[i]}`,
      ),
      `ves_ingest_latency_seconds_bucket{le="+Inf"} ${this.latencyCount}`,
      `ves_ingest_latency_seconds_sum ${this.latencySum}`,
      `ves_ingest_latency_seconds_count ${this.latencyCount}`,
      '# HELP ves_http_requests_total HTTP requests by route and status.',
      '# TYPE ves_http_requests_total counter',
      ...[...this.http].map(([key, n]) => {
        const [route, status] = key.split('\u0000');
        return `ves_http_requests_total{route="${esc(route ?? '')}",status="${status}"} ${n}`;
      }),
    ];
    return `${lines.join('\n')}\n`;
  }
}
