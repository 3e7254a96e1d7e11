// Health checks: the model's HealthCheck → Docker's `--health-*` flags, and how long a unit waits for
// `healthy` before it gives up. Pure.
//
// Docker's semantics (docs.docker.com/reference/dockerfile/#healthcheck, moby daemon/health.go):
// checks run every start-interval during the start period and every interval after it; a check that
// takes longer than timeout fails; failures during the start period do not count; `retries` failures
// in a row after it make the container `unhealthy`. So Docker has decided at the latest
// start-period + retries × (interval + timeout) after the container started.
import { HealthCheck } from "./model";

/** The project's defaults, always written out: Docker's own (30 s interval and timeout, a 5 s start interval only since Docker 27) are slow for a boot gate. */
export const HEALTH_DEFAULTS = {
    intervalSec: 10,
    timeoutSec: 5,
    retries: 3,
    startPeriodSec: 30,
    startIntervalSec: 2,
} as const;

/** Added to Docker's latest verdict time: creating the container and the first check. */
export const HEALTH_WAIT_MARGIN_SEC = 30;

/** A health check with every default filled in. */
export function healthSettings(h: HealthCheck): Required<Omit<HealthCheck, "waitSec">> & { readonly waitSec: number } {
    const s = {
        command: h.command,
        intervalSec: h.intervalSec ?? HEALTH_DEFAULTS.intervalSec,
        timeoutSec: h.timeoutSec ?? HEALTH_DEFAULTS.timeoutSec,
        retries: h.retries ?? HEALTH_DEFAULTS.retries,
        startPeriodSec: h.startPeriodSec ?? HEALTH_DEFAULTS.startPeriodSec,
        startIntervalSec: h.startIntervalSec ?? HEALTH_DEFAULTS.startIntervalSec,
    };
    const derived = s.startPeriodSec + s.retries * (s.intervalSec + s.timeoutSec) + HEALTH_WAIT_MARGIN_SEC;
    return { ...s, waitSec: h.waitSec ?? derived };
}

/** Seconds the unit waits for Docker to report the container healthy. */
export function healthWaitSec(h: HealthCheck): number {
    return healthSettings(h).waitSec;
}

/** `docker run` argument groups, one flag and its value each. Docker reads the durations with Go's time.ParseDuration. */
export function healthFlags(h: HealthCheck): string[][] {
    const s = healthSettings(h);
    return [
        ["--health-cmd", s.command],
        ["--health-interval", `${s.intervalSec}s`],
        ["--health-timeout", `${s.timeoutSec}s`],
        ["--health-retries", String(s.retries)],
        ["--health-start-period", `${s.startPeriodSec}s`],
        ["--health-start-interval", `${s.startIntervalSec}s`],
    ];
}
