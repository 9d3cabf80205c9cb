// Package graph turns traffic samples, services and policies into meshlock's
// service graph: edge statuses, findings and the difference between two
// snapshots. It is pure: no I/O, and it imports none of meshlock's other
// packages.
package graph
