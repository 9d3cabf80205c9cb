// Package prom holds meshlock's PromQL queries against any
// Prometheus-compatible API and turns their answers into traffic samples.
package prom
