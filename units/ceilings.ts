// Ceilings a large host meets on the host itself, whatever the user-data format, checked before
// anything is rendered. (EC2's user-data limit and Ignition's are checked by each format; the
// security group's rule quota with the security group.)
import { HostDefinition } from "./model";
import { NETWORK_NAME } from "./layout";
import { Problem } from "./problems";

/**
 * Containers on the one Docker network. Every container joins the bridge network NETWORK_NAME with
 * a veth port. A Linux bridge has at most 1024 ports (`BR_MAX_PORTS = 1 << BR_PORT_BITS`, BR_PORT_BITS
 * 10, net/bridge/br_private.h) and port 0 is reserved (br_if.c find_portno), so the 1024th container
 * fails to start with "exchange full" (moby/moby#14718). Containers became unreachable past about
 * 1002 on one network already (moby/moby#44973). The address space is not the limit: Docker gives a
 * user-defined network a /16 from its default pools (65,534 addresses).
 */
export const MAX_CONTAINERS_PER_NETWORK = 1000;

/** The host's ceilings, each a Problem when crossed. */
export function hostCeilingProblems(host: HostDefinition): Problem[] {
    const n = host.containers.length;
    if (n <= MAX_CONTAINERS_PER_NETWORK) return [];
    return [
        {
            code: "HOST_TOO_MANY_CONTAINERS",
            where: "host",
            field: "containers",
            message: `${n} containers on the Docker network ${NETWORK_NAME}: a Linux bridge takes 1023 ports, and Docker networks fail past about ${MAX_CONTAINERS_PER_NETWORK} containers`,
            fix: `run at most ${MAX_CONTAINERS_PER_NETWORK} containers on one host: split them across hosts`,
        },
    ];
}
