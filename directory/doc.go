// Package directory knows the agencies of the national document exchange:
// their identifier codes (mã định danh, QCVN 102:2016 §1) and the directory
// of about 111,000 agencies synced from the axis.
//
// A Code is parsed and validated once; its level, derived parent and
// level-1 group letter follow from its shape.
//
// A Directory keeps the entries in a bbolt file of its own, not in the
// queue's file: it is replaced whole by a full sync, can always be fetched
// again, and its large rewrites should not share commits with the queue's
// urgent fsyncs. It is loaded into an immutable in-memory index that a sync
// swaps atomically, so lookups never see half a sync and a failed sync
// leaves the previous directory in place.
//
// Search is for clerks who know a name, not a code: case and Vietnamese
// diacritics are folded (đ → d), word order is free, names holding every
// query word whole rank first, then names where a query word only starts a
// word, shorter names first.
package directory
