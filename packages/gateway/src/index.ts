export * as Auth from "./Auth.js"
export * as Discovery from "./Discovery.js"
export * as Gateway from "./Gateway.js"
export * as Metrics from "./Metrics.js"
