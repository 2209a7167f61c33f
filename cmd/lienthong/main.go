// Command lienthong is the operator's tool for lienthong: it inspects,
// builds, signs and verifies edXML packages and checks agency identifier
// codes and queue files, offline.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err))
}

// errUsage marks a command line the tool could not understand (exit 2);
// the usage was already printed.
var errUsage = errors.New("usage")

// errReported marks a failure whose details were already printed (exit 1).
var errReported = errors.New("reported")

func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		return 1
	}
}

// env is what every command gets: its arguments and standard streams.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

type command struct {
	name, summary string
	run           func(e *env, args []string) error
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr}
	err := dispatch(e, "lienthong", topUsage, []command{
		{"envelope", "inspect, build, sign and verify edXML packages", runEnvelope},
		{"send", "hand a document to the running gateway", runSend},
		{"status", "show an outbound document's state and its recipients' statuses", runStatus},
		{"outbox", "list, resend or recall outbound documents", runOutbox},
		{"inbox", "list, read and answer received documents", runInbox},
		{"agencies", "list the agencies the gateway serves, their keys and queues", runAgencies},
		{"dir", "check identifier codes; search the agency directory", runDir},
		{"queue", "check, count, compact and back up a queue file offline", runQueue},
		{"axis", "talk to the axis adapter directly: send, list, get, ack, sent, agencies", runAxis},
		{"dev-ca", "make a development CA and agency key (not for production)", runDevCA},
		{"bench", "measure throughput and latency to the axis (load tool)", runBench},
		{"completion", "print a shell completion script (bash, zsh, fish)", runCompletion},
		{"man", "print the manual page, made from this help", runMan},
	}, args)
	if err != nil && !errors.Is(err, errUsage) && !errors.Is(err, errReported) && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stderr, "lienthong:", err)
	}
	return err
}

const topUsage = `lienthong: operator tool for the lienthong document exchange gateway.

Usage:
  lienthong COMMAND [SUBCOMMAND] [flags] [args]

Commands:
%s
Run "lienthong COMMAND -h" for a command's help.

Commands send, status, outbox, inbox and dir search/lookup talk to a running
lienthongd at --api or $LIENTHONG_API with the token in $LIENTHONG_TOKEN.

Examples:
  lienthong envelope inspect docs/examples/cong-van.edxml
  lienthong send --metadata docs/examples/cong-van.json docs/examples/cong-van-152.pdf
  lienthong dev-ca /tmp/dev
  lienthong envelope verify --trust /tmp/dev/ca.pem signed.edxml
`

// dispatch runs the sub-command named by args[0].
func dispatch(e *env, prog, usage string, cmds []command, args []string) error {
	printUsage := func(w io.Writer) {
		list := ""
		for _, c := range cmds {
			list += fmt.Sprintf("  %-11s %s\n", c.name, c.summary)
		}
		fmt.Fprintf(w, usage, list)
	}
	if len(args) == 0 {
		printUsage(e.stderr)
		return errUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		printUsage(e.stdout)
		return nil
	}
	for _, c := range cmds {
		if c.name == args[0] {
			return c.run(e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "%s: unknown command %q\n\n", prog, args[0])
	printUsage(e.stderr)
	return errUsage
}

// newFlags makes a flag set whose -h prints usage and an example to stdout.
// flagSet is the standard flag set, named for helpers that add flags.
type flagSet = flag.FlagSet

func newFlags(e *env, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		var hasFlags bool
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(fs.Output(), "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args, sending -h output to stdout and mapping errors to
// errUsage.
func parseFlags(e *env, fs *flag.FlagSet, args []string) error {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(e.stdout)
			fs.Usage()
			return flag.ErrHelp
		}
	}
	// Flags may come after the words, as the help shows them
	// (inbox answer --staff X ID 03, inbox get ID 1 -o FILE): parse,
	// set each word aside, parse on. After "--" all is words.
	var words []string
	for {
		if err := fs.Parse(args); err != nil {
			return errUsage
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			words = append(words, rest...)
			break
		}
		words = append(words, rest[0])
		args = rest[1:]
	}
	return fs.Parse(append([]string{"--"}, words...))
}
