// Pure building blocks: typed units, rendering, validation. No Pulumi here.
export * from "./model";
export * from "./layout";
export * from "./problems";
export * from "./quote";
export * from "./systemd";
export * from "./health";
export * from "./validate";
export * from "./provision";
export * from "./host";
export * from "./report";
export * from "./stack";
export * from "./render";
export * from "./ceilings";
export * from "./secrets";
export * from "./exposure";
export * from "./dataVolume";
