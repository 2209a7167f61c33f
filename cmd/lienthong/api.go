package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"lienthong/envelope"
	"lienthong/gateway/localapi"
)

// The commands in this file talk to a running lienthongd through its local
// API, as the legacy system does. They read the API address and token from
// flags or from $LIENTHONG_API and $LIENTHONG_TOKEN (what dev.env sets).

type apiFlags struct {
	url, tokenFile *string
}

func addAPIFlags(fs *pflag.FlagSet) apiFlags {
	return apiFlags{
		url:       fs.String("api", os.Getenv("LIENTHONG_API"), "local API base URL (default $LIENTHONG_API)"),
		tokenFile: fs.String("token-file", "", "file holding the bearer token (without it, the token in $LIENTHONG_TOKEN)"),
	}
}

func (a apiFlags) client() (*localapi.Client, error) {
	if *a.url == "" {
		return nil, errors.New("no local API: give --api URL or set LIENTHONG_API (lienthongd -dev writes it to dev.env)")
	}
	tok := os.Getenv("LIENTHONG_TOKEN")
	if *a.tokenFile != "" {
		b, err := os.ReadFile(*a.tokenFile)
		if err != nil {
			return nil, err
		}
		tok = strings.TrimSpace(string(b))
	}
	if tok == "" {
		return nil, errors.New("no token: give --token-file FILE or set LIENTHONG_TOKEN")
	}
	return &localapi.Client{Base: *a.url, Token: tok}, nil
}

// answer prints a call's result as JSON, or its refusal.
func answer(e *env, v any, err error) error {
	if err != nil {
		return apiError(e, err)
	}
	return printJSON(e, v)
}

// jsonOut writes JSON with the text as written: "Sở TT&TT", not
// "Sở TT\u0026TT".
func jsonOut(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

func printJSON(e *env, v any) error {
	enc := jsonOut(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// apiError prints an API refusal with each broken rule on its own line.
func apiError(e *env, err error) error {
	var ae *localapi.Error
	if !errors.As(err, &ae) {
		return err
	}
	fmt.Fprintf(e.stderr, "lienthong: %d %s\n", ae.Status, ae.Message)
	for _, p := range ae.Problems {
		fmt.Fprintf(e.stderr, "  %s: %s", p.Field, p.Rule)
		if p.Value != "" {
			fmt.Fprintf(e.stderr, " (%q)", p.Value)
		}
		fmt.Fprintln(e.stderr)
	}
	return errReported
}

const sendLong = `Hands a document to the running gateway: the metadata JSON (the same shape
as "envelope build", see docs/metadata.md) and its files, in the order its
attachments list them. Prints {"id","documentId"}; the gateway signs and
sends it, and "lienthong status ID" follows it.`

const sendExample = `  lienthong send --metadata docs/examples/cong-van.json docs/examples/cong-van-152.pdf`

func sendCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "send --metadata FILE [FILE...]", Short: "hand a document to the running gateway",
		Long: sendLong, Example: sendExample, Args: argsBetween(0, -1)}
	api := addAPIFlags(c.Flags())
	metaFile := c.Flags().String("metadata", "", "document metadata JSON (required)")
	c.RunE = func(c *cobra.Command, args []string) error {
		if *metaFile == "" {
			return badUsage(c, "--metadata is required")
		}
		cl, err := api.client()
		if err != nil {
			return err
		}
		raw, err := os.ReadFile(*metaFile)
		if err != nil {
			return err
		}
		var meta map[string]any
		if err := json.Unmarshal(raw, &meta); err != nil {
			return fmt.Errorf("%s: %w", *metaFile, err)
		}
		delete(meta, "from") // the gateway sends as its own agency
		var files []localapi.Upload
		for _, f := range args {
			data, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			files = append(files, localapi.Upload{Name: filepath.Base(f), Data: data})
		}
		acc, err := cl.Submit(e.ctx, meta, files)
		return answer(e, acc, err)
	}
	return c
}

const statusLong = `Shows an outbound document: its state (accepted, sending, retry, sent,
dead), attempts, last error and each recipient's status code.`

const statusExample = `  lienthong status out-0000000001`

func statusCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "status ID", Short: "show an outbound document's state and its recipients' statuses",
		Long: statusLong, Example: statusExample, Args: nArgs(1)}
	api := addAPIFlags(c.Flags())
	c.RunE = func(_ *cobra.Command, args []string) error {
		cl, err := api.client()
		if err != nil {
			return err
		}
		d, err := cl.Document(e.ctx, args[0])
		return answer(e, d, err)
	}
	return c
}

const outboxLong = `Lists outbound documents (STATE: accepted, sending, retry, sent, dead,
discarded), puts a dead one back in the queue (or every dead one after an
outage), gives one up for good with a reason, sends one waiting out its
backoff now, asks the recipients of a sent one to
give it back (status 13), or withdraws it with a revocation package
(business type 1). Recipients answer 15 (agreed) or 16 (refused), shown
per recipient on the document.`

const outboxExample = `  lienthong outbox --state dead
  lienthong outbox resend out-0000000007
  lienthong outbox resend --all-dead --since 2026-03-16T00:00:00+07:00
  lienthong outbox discard out-0000000007 --reason "Gửi nhầm nơi nhận"
  lienthong outbox retry out-0000000008`

func outboxCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "outbox", Short: "list, resend or recall outbound documents",
		Long: outboxLong, Example: outboxExample, Args: noCommand}
	api := addAPIFlags(c.PersistentFlags())
	state := c.Flags().String("state", "", "only documents in this state")
	values(c, "state", "accepted", "sending", "retry", "sent", "dead", "discarded")
	out := addOutput(c)
	c.RunE = func(_ *cobra.Command, _ []string) error {
		return list(e, api, *out, func(cl *localapi.Client) (any, error) { return cl.Documents(e.ctx, *state, 0) })
	}
	resend := &cobra.Command{Use: "resend [ID]", Short: "put a dead document back in the queue, or with --all-dead every one",
		Example: "  lienthong outbox resend out-0000000042\n  lienthong outbox resend --all-dead --since 2026-03-16T00:00:00+07:00 --agency 000.00.07.H26",
		Args:    argsBetween(0, 1)}
	allDead := resend.Flags().Bool("all-dead", false, "every dead document (of --agency, created in [--since, --until)), after an outage")
	since := resend.Flags().String("since", "", "with --all-dead: created at or after (RFC 3339)")
	until := resend.Flags().String("until", "", "with --all-dead: created before (RFC 3339)")
	agency := resend.Flags().String("agency", "", "with --all-dead: of this agency")
	resend.RunE = func(c *cobra.Command, args []string) error {
		if *allDead == (len(args) == 1) {
			return badUsage(c, "give an ID, or --all-dead")
		}
		if len(args) == 1 {
			return call(e, api, func(cl *localapi.Client) (any, error) { return cl.Resend(e.ctx, args[0]) })
		}
		q := localapi.ResendQuery{Agency: *agency}
		for _, f := range []struct {
			name, v string
			t       *time.Time
		}{{"--since", *since, &q.Since}, {"--until", *until, &q.Until}} {
			if f.v == "" {
				continue
			}
			t, err := time.Parse(time.RFC3339, f.v)
			if err != nil {
				return badUsage(c, "%s %q: want RFC 3339, e.g. 2026-03-16T00:00:00+07:00", f.name, f.v)
			}
			*f.t = t
		}
		return call(e, api, func(cl *localapi.Client) (any, error) { return cl.ResendAll(e.ctx, q) })
	}
	discard := &cobra.Command{Use: "discard ID", Short: "give a dead or waiting document up for good, with a reason", Args: nArgs(1),
		Example: `  lienthong outbox discard out-0000000042 --reason "Gửi nhầm nơi nhận"`}
	discardReason := discard.Flags().String("reason", "", "why (required; kept in the document's history)")
	discard.RunE = func(c *cobra.Command, args []string) error {
		if *discardReason == "" {
			return badUsage(c, "--reason is required: say why the document is given up")
		}
		return call(e, api, func(cl *localapi.Client) (any, error) { return cl.Discard(e.ctx, args[0], *discardReason) })
	}
	retry := &cobra.Command{Use: "retry ID", Short: "send a document waiting out its backoff now", Args: nArgs(1)}
	retry.RunE = func(_ *cobra.Command, args []string) error {
		return call(e, api, func(cl *localapi.Client) (any, error) { return cl.RetryNow(e.ctx, args[0]) })
	}
	recall := &cobra.Command{Use: "recall ID", Short: "ask the recipients of a sent document to give it back (status 13)", Args: nArgs(1)}
	recallReason := recall.Flags().String("reason", "", "why")
	recall.RunE = func(_ *cobra.Command, args []string) error {
		return call(e, api, func(cl *localapi.Client) (any, error) { return cl.Recall(e.ctx, args[0], *recallReason) })
	}
	revoke := &cobra.Command{Use: "revoke ID", Short: "withdraw a sent document with a revocation package", Args: nArgs(1)}
	revokeReason := revoke.Flags().String("reason", "", "why")
	revoke.RunE = func(_ *cobra.Command, args []string) error {
		return call(e, api, func(cl *localapi.Client) (any, error) { return cl.Revoke(e.ctx, args[0], *revokeReason) })
	}
	c.AddCommand(resend, discard, retry, recall, revoke)
	return c
}

// call makes one local API call and prints its answer.
func call(e *env, api apiFlags, f func(*localapi.Client) (any, error)) error {
	cl, err := api.client()
	if err != nil {
		return err
	}
	v, err := f(cl)
	return answer(e, v, err)
}

const inboxLong = `Lists received documents (STATE: new, answered, recall, quarantined; --wait
holds an empty answer until one arrives), shows one, saves its Nth file, or
answers it: 02 refuse, 03 registered, 04 assigned, 05 processing, 06 done,
15/16 agree to or refuse a recall.`

const inboxExample = `  lienthong inbox --state new
  lienthong inbox get in-0000000001 1 -o cong-van.pdf
  lienthong inbox answer --staff "Văn thư" in-0000000001 03`

func inboxCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "inbox", Short: "list, read and answer received documents",
		Long: inboxLong, Example: inboxExample, Args: noCommand}
	api := addAPIFlags(c.PersistentFlags())
	state := c.Flags().String("state", "", "only items in this state")
	values(c, "state", "new", "answered", "recall", "quarantined")
	wait := c.Flags().Duration("wait", 0, "hold an empty list up to this long")
	out := addOutput(c)
	c.RunE = func(_ *cobra.Command, _ []string) error {
		return list(e, api, *out, func(cl *localapi.Client) (any, error) { return cl.Inbox(e.ctx, *state, *wait) })
	}
	show := &cobra.Command{Use: "show ID", Short: "show a received document and its files", Args: nArgs(1)}
	show.RunE = func(_ *cobra.Command, args []string) error {
		return call(e, api, func(cl *localapi.Client) (any, error) { return cl.InboxItem(e.ctx, args[0]) })
	}
	get := &cobra.Command{Use: "get ID N", Short: "save a received document's Nth file", Args: nArgs(2),
		Example: "  lienthong inbox get in-0000000001 1 -o cong-van.pdf"}
	file := get.Flags().StringP("output", "o", "", "write the file here instead of standard output")
	get.RunE = func(_ *cobra.Command, args []string) error {
		cl, err := api.client()
		if err != nil {
			return err
		}
		return inboxGet(e, cl, args[0], args[1], *file)
	}
	ans := &cobra.Command{Use: "answer ID CODE", Short: "answer a received document with a status code", Args: nArgs(2),
		Long:    inboxAnswerLong,
		Example: `  lienthong inbox answer --staff "Văn thư" in-0000000001 03`}
	ans.ValidArgsFunction = func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) == 1 {
			var cs []cobra.Completion
			for _, c := range envelope.AnswerCodes() {
				cs = append(cs, string(c)+"\t"+c.Name())
			}
			return cs, cobra.ShellCompDirectiveNoFileComp
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	desc := ans.Flags().String("description", "", "the status text")
	staff := ans.Flags().String("staff", "", "who answers")
	ans.RunE = func(_ *cobra.Command, args []string) error {
		return call(e, api, func(cl *localapi.Client) (any, error) {
			return cl.Answer(e.ctx, args[0], localapi.StatusRequest{Code: args[1], Description: *desc, Staff: *staff})
		})
	}
	c.AddCommand(show, get, ans)
	return c
}

const inboxAnswerLong = `Answers a received document with a status package: 02 refuse, 03
registered, 04 assigned, 05 processing, 06 done, 15/16 agree to or refuse a
recall. Answers follow that order: a code before one already given is
refused with the rule.`

func inboxGet(e *env, c *localapi.Client, id, nth, out string) error {
	n, err := strconv.Atoi(nth)
	if err != nil {
		return fmt.Errorf("file number %q: want 1, 2, …", nth)
	}
	var w io.Writer = e.stdout
	var f *os.File
	if out != "" {
		if f, err = os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640); err != nil {
			return err
		}
		w = f
	}
	total := int64(0)
	if it, err := c.InboxItem(e.ctx, id); err == nil && n >= 1 && n <= len(it.Files) {
		total = it.Files[n-1].Size
	}
	m := newByteMeter(e, w, "inbox get "+id+" "+nth, total)
	err = c.InboxFileTo(e.ctx, id, n, m)
	m.done()
	if f != nil {
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		if f != nil {
			os.Remove(out)
		}
		return apiError(e, err)
	}
	return nil
}

// dirFromAPI serves dir search and lookup from the running gateway's
// synced directory.
func dirFromAPI(e *env, api apiFlags, lookup string, words []string, limit int) error {
	c, err := api.client()
	if err != nil {
		return err
	}
	if lookup != "" {
		a, err := c.Agency(e.ctx, lookup)
		if err != nil {
			return apiError(e, err)
		}
		return jsonOut(e.stdout).Encode(a)
	}
	as, err := c.Search(e.ctx, strings.Join(words, " "))
	if err != nil {
		return apiError(e, err)
	}
	for i, a := range as {
		if i == limit {
			break
		}
		if err := jsonOut(e.stdout).Encode(a); err != nil {
			return err
		}
	}
	return nil
}

const agenciesLong = `Lists the agencies the running gateway serves that your token covers:
each one's signing key (own, shared or none), certificate expiry and the
documents it has waiting. A city's or ministry's gateway serves many; the
per-agency figures live here rather than in Prometheus labels.`

const agenciesExample = `  lienthong agencies`

func agenciesCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "agencies", Short: "list the agencies the gateway serves, their keys and queues",
		Long: agenciesLong, Example: agenciesExample, Args: nArgs(0)}
	api := addAPIFlags(c.Flags())
	out := addOutput(c)
	c.RunE = func(_ *cobra.Command, _ []string) error {
		return list(e, api, *out, func(cl *localapi.Client) (any, error) { return cl.Agencies(e.ctx) })
	}
	return c
}
