// Package queue is lienthong's durable work store: every document accepted
// from the legacy system and every package fetched from the axis is a Record
// here before anyone is told it was received.
//
// Store is the contract any engine meets (queuetest holds its behaviours);
// Bolt, on one bbolt file, is the embedded default. A store keeps two
// directions, outbound and inbound. Records carry opaque payload bytes,
// small metadata and the engine's data; the queue knows no edXML and no
// policy. Work is done in transactions (Update) of primitives: put, lease
// (highest priority first, oldest first within a priority, for a lease
// time, fenced by a token), finish, reschedule at a time the engine chose,
// kill, release, resend, change, claim; every change can emit an event
// into the record's history in the same commit, and subscribers hear the
// events once they are durable.
//
// Every Update is durable (fsynced) when it returns. Bolt's concurrent
// writers share commits: one committer drains every pending write into a
// single transaction, so a lone write pays one commit and many writers pay
// one commit between them; one that fails is redone alone.
package queue
