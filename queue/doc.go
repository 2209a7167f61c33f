// Package queue is lienthong's durable work store: every document accepted
// from the legacy system and every package fetched from the axis is a Record
// here before anyone is told it was received.
//
// A Store keeps two directions, outbound and inbound, in one bbolt file.
// Records carry opaque payload bytes and small metadata; the queue knows no
// edXML. Work is handed out by Lease, highest priority first and oldest
// first within a priority, for a lease time: a worker that crashes or hangs
// loses its lease and the record goes back to the queue. Retry schedules the
// next attempt with exponential backoff and full jitter; a record that runs
// out of attempts or age is dead until an operator resends it.
//
// Every write is durable (fsynced) when it returns. Concurrent writes share
// commits: one committer drains every pending write into a single
// transaction, so a lone write pays one commit and many writers pay one
// commit between them.
package queue
