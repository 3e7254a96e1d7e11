// The host `main`: the seed's nine containers, as typed data. This folder is yours: one file per
// host, each exporting a HostSpec as its default. The program deploys what is here (today exactly
// one host per stack); the library (units/, packing/, components/) never imports it.
//
// Stacks change images and add environment through config (`coreos-containers:containers`);
// anything else is changed here, in code review.
import type { ContainerUnit, HostSpec } from "../units/model";

const elastic: ContainerUnit = {
    kind: "container",
    name: "elastic",
    description: "Elasticsearch, the log store",
    image: { kind: "registry", ref: "docker.elastic.co/elasticsearch/elasticsearch:8.15.3" },
    // Cluster health: HTTP 408 (so curl -f fails) until the cluster is at least yellow. The image has curl.
    healthCheck: {
        command: "curl -fsS 'http://127.0.0.1:9200/_cluster/health?wait_for_status=yellow&timeout=1s' >/dev/null",
        startPeriodSec: 120,
    },
    // On the data disk: kept when the host is replaced. The image runs as uid 1000, gid 0 (Elastic's
    // "Install Elasticsearch with Docker": bind-mounted data must be writable by uid:gid 1000:0).
    volumes: [{ source: { kind: "data", path: "elastic", owner: { uid: 1000, gid: 0 } }, target: "/usr/share/elasticsearch/data" }],
    env: {
        "discovery.type": "single-node",
        "xpack.security.enabled": "false",
        ES_JAVA_OPTS: "-Xms1g -Xmx1g",
    },
    stopTimeoutSec: 30,
    extraArgs: ["--ulimit", "nofile=65535:65535", "--ulimit", "memlock=-1:-1"],
};

const fluentd: ContainerUnit = {
    kind: "container",
    name: "fluentd",
    description: "Fluentd, ships container logs to Elasticsearch",
    image: { kind: "tarball", file: "fluentd.tar", ref: "coreos-containers/fluentd:1.17.1" },
    // Only Ruby in this image (no curl, no wget): ask the monitor_agent source of fluent.conf (127.0.0.1:24220),
    // which answers only when a worker runs; a TCP check of 24224 can pass while the worker is down.
    healthCheck: {
        command: `ruby -rnet/http -e 'exit Net::HTTP.get_response(URI("http://127.0.0.1:24220/api/plugins.json")).is_a?(Net::HTTPSuccess)'`,
        startPeriodSec: 30,
    },
    // Anyone who reaches 24224 can write into Elasticsearch: no one outside the host by default; a stack
    // names the networks that ship logs here (coreos-containers:containers.fluentd.expose).
    ports: [
        { host: 24224, container: 24224, protocol: "tcp" },
        { host: 24224, container: 24224, protocol: "udp" },
    ],
    volumes: [
        { source: { kind: "artifact", path: "log/fluent.conf" }, target: "/fluentd/etc/fluent.conf", readOnly: true },
        { source: { kind: "host", path: "/var/lib/docker/containers" }, target: "/var/lib/docker/containers", readOnly: true },
    ],
    dependsOn: [elastic],
};

const kibana: ContainerUnit = {
    kind: "container",
    name: "kibana",
    description: "Kibana, the log UI",
    image: { kind: "registry", ref: "docker.elastic.co/kibana/kibana:8.15.3" },
    // The status API under the base path (SERVER_BASEPATH); healthy when the overall level is "available".
    healthCheck: {
        command: `curl -fsS http://127.0.0.1:5601/kibana/api/status | grep -q '"overall":{"level":"available"'`,
        startPeriodSec: 180,
    },
    env: {
        ELASTICSEARCH_HOSTS: "http://elastic:9200",
        SERVER_BASEPATH: "/kibana",
        SERVER_REWRITEBASEPATH: "true",
    },
    dependsOn: [elastic],
};

const nodeExporter: ContainerUnit = {
    kind: "container",
    name: "node-exporter",
    description: "Prometheus node exporter, host metrics",
    image: { kind: "registry", ref: "quay.io/prometheus/node-exporter:v1.8.2" },
    // No health endpoint: the landing page (cheap; /metrics would run every collector). BusyBox wget.
    healthCheck: { command: "wget -q -O /dev/null http://127.0.0.1:9100/", startPeriodSec: 10 },
    volumes: [
        { source: { kind: "host", path: "/proc" }, target: "/host/proc", readOnly: true },
        { source: { kind: "host", path: "/sys" }, target: "/host/sys", readOnly: true },
    ],
    command: ["--path.procfs=/host/proc", "--path.sysfs=/host/sys"],
};

const cadvisor: ContainerUnit = {
    kind: "container",
    name: "cadvisor",
    description: "cAdvisor, container metrics",
    image: { kind: "registry", ref: "gcr.io/cadvisor/cadvisor:v0.49.1" },
    // The image's own check, made explicit: /healthz answers once the manager started. BusyBox wget.
    healthCheck: { command: "wget -q -O /dev/null http://127.0.0.1:8080/healthz", startPeriodSec: 30 },
    volumes: [
        { source: { kind: "host", path: "/" }, target: "/rootfs", readOnly: true },
        { source: { kind: "host", path: "/var/run" }, target: "/var/run", readOnly: true },
        { source: { kind: "host", path: "/sys" }, target: "/sys", readOnly: true },
        { source: { kind: "host", path: "/var/lib/docker" }, target: "/var/lib/docker", readOnly: true },
    ],
    extraArgs: ["--privileged"],
};

const alertmanager: ContainerUnit = {
    kind: "container",
    name: "alertmanager",
    description: "Alertmanager, routes Prometheus alerts",
    image: { kind: "registry", ref: "quay.io/prometheus/alertmanager:v0.27.0" },
    healthCheck: { command: "wget -q -O /dev/null http://127.0.0.1:9093/-/ready", startPeriodSec: 20 },
    volumes: [
        { source: { kind: "artifact", path: "prometheus/alertmanager.yml" }, target: "/etc/alertmanager/alertmanager.yml", readOnly: true },
        // Silences and the notification log (the image's --storage.path=/alertmanager), kept across replacements; `USER nobody` as Prometheus.
        { source: { kind: "data", path: "alertmanager", owner: { uid: 65534, gid: 65534 } }, target: "/alertmanager" },
    ],
};

const prometheus: ContainerUnit = {
    kind: "container",
    name: "prometheus",
    description: "Prometheus, scrapes metrics",
    image: { kind: "registry", ref: "quay.io/prometheus/prometheus:v2.55.1" },
    // /-/ready answers 503 until the TSDB is open (WAL replayed) and the config loaded. BusyBox wget.
    healthCheck: { command: "wget -q -O /dev/null http://127.0.0.1:9090/-/ready", startPeriodSec: 120 },
    volumes: [
        { source: { kind: "artifact", path: "prometheus/prometheus.yml" }, target: "/etc/prometheus/prometheus.yml", readOnly: true },
        // The TSDB on the data disk. The image runs as `USER nobody` (65534; its Dockerfile chowns /prometheus to nobody:nogroup).
        { source: { kind: "data", path: "prometheus", owner: { uid: 65534, gid: 65534 } }, target: "/prometheus" },
    ],
    command: ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.retention.time=15d"],
    dependsOn: [nodeExporter, cadvisor, alertmanager],
};

const grafana: ContainerUnit = {
    kind: "container",
    name: "grafana",
    description: "Grafana, dashboards",
    image: { kind: "registry", ref: "grafana/grafana:11.3.0" },
    // /api/health checks the database; probed under the sub-path, which Grafana strips before routing.
    healthCheck: { command: "curl -fsS http://127.0.0.1:3000/grafana/api/health >/dev/null", startPeriodSec: 60 },
    env: {
        // Grafana's own interpolation syntax: the `%` must reach Grafana unchanged.
        GF_SERVER_ROOT_URL: "%(protocol)s://%(domain)s/grafana/",
        GF_SERVER_SERVE_FROM_SUB_PATH: "true",
    },
    volumes: [
        {
            source: { kind: "artifact", path: "grafana/datasources.yml" },
            target: "/etc/grafana/provisioning/datasources/datasources.yml",
            readOnly: true,
        },
        // Dashboards, users and settings (grafana.db) on the data disk. The image runs as uid 472, gid 0 (Grafana's Docker docs).
        { source: { kind: "data", path: "grafana", owner: { uid: 472, gid: 0 } }, target: "/var/lib/grafana" },
    ],
    dependsOn: [prometheus],
};

const nginx: ContainerUnit = {
    kind: "container",
    name: "nginx",
    description: "Nginx, the front door",
    image: { kind: "tarball", file: "nginx.tar", ref: "coreos-containers/nginx:1.27.2" },
    // nginx.conf's own `location = /healthz`, not a proxied path: nginx is healthy while Kibana or Grafana is down.
    healthCheck: { command: "wget -q -O /dev/null http://127.0.0.1/healthz", startPeriodSec: 10 },
    ports: [
        { host: 80, container: 80, expose: "internet" },
        { host: 443, container: 443, expose: "internet" },
    ],
    volumes: [{ source: { kind: "artifact", path: "nginx/nginx.conf" }, target: "/etc/nginx/nginx.conf", readOnly: true }],
    dependsOn: [kibana, grafana],
};

const host: HostSpec = {
    name: "main",
    description: "logs (Elasticsearch, Fluentd, Kibana), metrics (Prometheus, Grafana) and the front door (nginx)",
    containers: [elastic, fluentd, kibana, nodeExporter, cadvisor, alertmanager, prometheus, grafana, nginx],
};

export default host;
