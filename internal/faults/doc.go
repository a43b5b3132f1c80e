// Package faults holds the fault tests of the consumer against the real
// servers: a consumer process killed with SIGKILL mid-stream, a database
// outage ridden out, two replicas started together, and SIGTERM to the
// example consumer. They start their own processes and proxies, never stop
// a shared server, and stop by themselves within bounded time.
package faults
