package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The man pages and shell completions are generated from the same help
// text "-h" prints, so they cannot drift from what the tool accepts.

// helpNode is one command's help, parsed into its parts.
type helpNode struct {
	path     []string    // e.g. ["envelope", "sign"]; empty for the tool itself
	summary  string      // the line its parent lists it with
	sections []section   // in the order the help prints them
	children []*helpNode // commands listed under Commands/Subcommands
	words    []string    // further sub-words its usage lines show (outbox resend)
	flags    []helpFlag
}

type section struct {
	title string // "" for the text before the first heading
	lines []string
}

type helpFlag struct {
	name, arg, usage string
}

var (
	headingLine = regexp.MustCompile(`^([A-Z][a-z]+(?: [a-z]+)?):\s*$`)
	listedLine  = regexp.MustCompile(`^  ([a-z][a-z0-9-]*)\s{2,}(.+)$`)
	flagLine    = regexp.MustCompile(`^  -([A-Za-z0-9-]+)(?: (\S+))?$`)
	subWord     = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
)

// helpTree runs "-h" on every command, depth first.
func helpTree(e *env) (*helpNode, error) {
	root := &helpNode{summary: "operator tool for the lienthong document exchange gateway"}
	return root, root.load(e)
}

func (n *helpNode) load(e *env) error {
	var out bytes.Buffer
	sub := &env{ctx: e.ctx, stdin: strings.NewReader(""), stdout: &out, stderr: &out}
	if err := run(sub.ctx, append(slices.Clone(n.path), "-h"), sub.stdin, sub.stdout, sub.stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		return fmt.Errorf("%s -h: %w", strings.Join(append([]string{"lienthong"}, n.path...), " "), err)
	}
	n.parse(out.String())
	for _, c := range n.children {
		if err := c.load(e); err != nil {
			return err
		}
	}
	return nil
}

func (n *helpNode) parse(text string) {
	cur := &section{}
	var flag *helpFlag
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if m := headingLine.FindStringSubmatch(line); m != nil {
			n.sections = append(n.sections, *cur)
			cur = &section{title: m[1]}
			continue
		}
		if strings.HasPrefix(line, "Usage: ") { // one-line form
			n.sections = append(n.sections, *cur)
			cur = &section{title: "Usage", lines: []string{"  " + strings.TrimPrefix(line, "Usage: ")}}
			continue
		}
		if cur.title != "" || strings.TrimSpace(line) != "" || len(cur.lines) > 0 {
			cur.lines = append(cur.lines, line)
		}
		switch cur.title {
		case "Commands", "Subcommands":
			if m := listedLine.FindStringSubmatch(line); m != nil {
				n.children = append(n.children, &helpNode{path: append(slices.Clone(n.path), m[1]), summary: m[2]})
			}
		case "Usage":
			n.usageWord(line)
		case "Flags":
			if m := flagLine.FindStringSubmatch(line); m != nil {
				n.flags = append(n.flags, helpFlag{name: m[1], arg: m[2]})
				flag = &n.flags[len(n.flags)-1]
			} else if flag != nil && strings.TrimSpace(line) != "" {
				flag.usage = strings.TrimSpace(flag.usage + " " + strings.TrimSpace(line))
			}
		}
	}
	n.sections = append(n.sections, *cur)
	n.sections = slices.DeleteFunc(n.sections, func(s section) bool { return strings.TrimSpace(strings.Join(s.lines, "")) == "" })
	for i := range n.sections {
		l := n.sections[i].lines
		for len(l) > 0 && strings.TrimSpace(l[len(l)-1]) == "" {
			l = l[:len(l)-1]
		}
		n.sections[i].lines = l
	}
}

// usageWord notes "lienthong outbox resend ID": a sub-word that is not a
// separate command but takes the same flags.
func (n *helpNode) usageWord(line string) {
	f := strings.Fields(line)
	prefix := append([]string{"lienthong"}, n.path...)
	if len(f) <= len(prefix) || !slices.Equal(f[:len(prefix)], prefix) {
		return
	}
	w := f[len(prefix)]
	if subWord.MatchString(w) && !slices.Contains(n.words, w) {
		n.words = append(n.words, w)
	}
}

func (n *helpNode) walk(fn func(*helpNode)) {
	fn(n)
	for _, c := range n.children {
		c.walk(fn)
	}
}

const manUsage = `Usage:
  lienthong man [-o FILE]
  lienthongd -h 2>&1 | lienthong man --name lienthongd --section 8 [-o FILE] -

Writes a manual page in roff: lienthong(1) from the help of every command,
or, with "-", a page for another program from the help it printed.

Example:
  $ lienthong man -o /usr/share/man/man1/lienthong.1
`

func runMan(e *env, args []string) error {
	fs := newFlags(e, "man", manUsage)
	name := fs.String("name", "lienthong", "the program's name")
	sectionNo := fs.String("section", "1", "manual section: 1 commands, 8 system services")
	outFile := fs.String("o", "", "write to this file instead of standard output")
	if err := parseFlags(e, fs, args); err != nil {
		return err
	}
	var page bytes.Buffer
	switch {
	case fs.NArg() == 1 && fs.Arg(0) == "-":
		text, err := io.ReadAll(e.stdin)
		if err != nil {
			return err
		}
		n := &helpNode{}
		n.parse(string(text))
		writeMan(&page, *name, *sectionNo, n)
	case fs.NArg() == 0:
		root, err := helpTree(e)
		if err != nil {
			return err
		}
		writeMan(&page, *name, *sectionNo, root)
	default:
		fs.Usage()
		return errUsage
	}
	return writeOut(e, *outFile, page.Bytes(), 0o644)
}

// writeOut writes b to file, or to standard output when file is "".
func writeOut(e *env, file string, b []byte, mode os.FileMode) error {
	if file == "" {
		_, err := e.stdout.Write(b)
		return err
	}
	return os.WriteFile(file, b, mode)
}

// roff escapes text for a man page body line.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	var b strings.Builder
	for _, r := range s { // roff input is ASCII: name every other character
		if r < 0x80 {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, `\[u%04X]`, r)
		}
	}
	return b.String()
}

func writeMan(w io.Writer, name, sectionNo string, root *helpNode) {
	b := bufio.NewWriter(w)
	defer b.Flush()
	date := time.Now().UTC().Format("2006-01-02")
	if epoch := os.Getenv("SOURCE_DATE_EPOCH"); epoch != "" { // reproducible packages
		var s int64
		if _, err := fmt.Sscan(epoch, &s); err == nil {
			date = time.Unix(s, 0).UTC().Format("2006-01-02")
		}
	}
	fmt.Fprintf(b, ".TH %s %s %s lienthong \"lienthong manual\"\n", strings.ToUpper(name), sectionNo, date)
	summary := root.summary
	if summary == "" && len(root.sections) > 0 && root.sections[0].title == "" {
		summary = strings.TrimSpace(strings.SplitN(strings.Join(root.sections[0].lines, " "), ".", 2)[0])
	}
	fmt.Fprintf(b, ".SH NAME\n%s \\- %s\n", name, roff(summary))
	root.walk(func(n *helpNode) {
		if len(n.path) == 0 {
			writeSections(b, n, ".SH", true)
			return
		}
		fmt.Fprintf(b, ".SS %s\n%s\n", roff(strings.Join(n.path, " ")), roff(n.summary))
		writeSections(b, n, ".TP", false)
	})
	fmt.Fprintf(b, ".SH SEE ALSO\n.BR lienthong (1),\n.BR lienthongd (8),\n.BR systemctl (1)\n")
}

func writeSections(b *bufio.Writer, n *helpNode, heading string, top bool) {
	for _, s := range n.sections {
		title := strings.ToUpper(s.title)
		switch {
		case s.title == "" && top:
			title = "DESCRIPTION"
		case s.title == "Usage" && top:
			title = "SYNOPSIS"
		case s.title == "":
			title = ""
		}
		if title != "" {
			if top {
				fmt.Fprintf(b, "%s %s\n", heading, title)
			} else {
				fmt.Fprintf(b, ".PP\n.I %s\n", roff(strings.ToLower(s.title)))
			}
		}
		if s.title == "Flags" {
			for _, f := range n.flags {
				arg := ""
				if f.arg != "" {
					arg = " " + `\fI` + roff(f.arg) + `\fR`
				}
				fmt.Fprintf(b, ".TP\n.B \\-\\-%s%s\n%s\n", roff(f.name), arg, roff(f.usage))
			}
			continue
		}
		verbatim := s.title == "Usage" || s.title == "Example" || s.title == "Examples" || s.title == "Commands" || s.title == "Subcommands"
		if verbatim {
			b.WriteString(".PP\n.nf\n.RS 4\n")
		} else {
			b.WriteString(".PP\n")
		}
		for _, l := range s.lines {
			if !verbatim {
				l = strings.TrimSpace(l)
				if l == "" {
					b.WriteString(".PP\n")
					continue
				}
			}
			b.WriteString(roff(strings.TrimPrefix(l, "  ")) + "\n")
		}
		if verbatim {
			b.WriteString(".RE\n.fi\n")
		}
	}
}

const completionUsage = `Usage:
  lienthong completion bash|zsh|fish

Prints a completion script for the shell: commands, subcommands and flags
as "-h" lists them.

Example:
  $ lienthong completion bash > /etc/bash_completion.d/lienthong
  $ lienthong completion fish > ~/.config/fish/completions/lienthong.fish
`

func runCompletion(e *env, args []string) error {
	fs := newFlags(e, "completion", completionUsage)
	if err := parseFlags(e, fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	root, err := helpTree(e)
	if err != nil {
		return err
	}
	switch fs.Arg(0) {
	case "bash":
		writeBash(e.stdout, root)
	case "zsh":
		fmt.Fprint(e.stdout, "#compdef lienthong\n# lienthong completion for zsh, through its bash completion.\nautoload -U +X bashcompinit && bashcompinit\n")
		writeBash(e.stdout, root)
	case "fish":
		writeFish(e.stdout, root)
	default:
		fmt.Fprintf(e.stderr, "completion: unknown shell %q: bash, zsh or fish\n", fs.Arg(0))
		return errUsage
	}
	return nil
}

// writeBash emits one case per command path: the words that may follow
// it, its flags, and the flags that take a value.
func writeBash(w io.Writer, root *helpNode) {
	b := bufio.NewWriter(w)
	defer b.Flush()
	b.WriteString(`# lienthong completion for bash.
_lienthong() {
  local cur prev path="" w i subs="" flags="" valued=""
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD-1]}
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=${COMP_WORDS[i]}
    [[ $w == -* ]] && continue
    _lienthong_words "$path"
    [[ " $subs " == *" $w "* ]] && path="${path:+$path }$w"
  done
  _lienthong_words "$path"
  if [[ " $valued " == *" ${prev#-} "* || " $valued " == *" ${prev#--} "* ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  elif [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  elif [[ -n $subs ]]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
_lienthong_words() {
  subs="" flags="" valued=""
  case "$1" in
`)
	root.walk(func(n *helpNode) {
		var subs, flags, valued []string
		for _, c := range n.children {
			subs = append(subs, c.path[len(c.path)-1])
		}
		subs = append(subs, n.words...)
		for _, f := range n.flags {
			flags = append(flags, "--"+f.name)
			if f.arg != "" {
				valued = append(valued, f.name)
			}
		}
		fmt.Fprintf(b, "    %q) subs=%q flags=%q valued=%q ;;\n", strings.Join(n.path, " "),
			strings.Join(subs, " "), strings.Join(flags, " "), strings.Join(valued, " "))
		for _, word := range n.words { // "outbox resend" takes outbox's flags
			fmt.Fprintf(b, "    %q) flags=%q valued=%q ;;\n", strings.Join(append(slices.Clone(n.path), word), " "),
				strings.Join(flags, " "), strings.Join(valued, " "))
		}
	})
	b.WriteString("  esac\n}\ncomplete -o filenames -F _lienthong lienthong\n")
}

func writeFish(w io.Writer, root *helpNode) {
	b := bufio.NewWriter(w)
	defer b.Flush()
	b.WriteString("# lienthong completion for fish.\ncomplete -c lienthong -f\n")
	quote := func(s string) string {
		return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
	}
	root.walk(func(n *helpNode) {
		// The condition: exactly this command path has been typed.
		cond := "__fish_use_subcommand"
		if len(n.path) > 0 {
			var parts []string
			for _, p := range n.path {
				parts = append(parts, "__fish_seen_subcommand_from "+p)
			}
			var next []string
			for _, c := range n.children {
				next = append(next, c.path[len(c.path)-1])
			}
			if len(next) > 0 {
				parts = append(parts, "not __fish_seen_subcommand_from "+strings.Join(next, " "))
			}
			cond = strings.Join(parts, "; and ")
		}
		for _, c := range n.children {
			fmt.Fprintf(b, "complete -c lienthong -n %s -a %s -d %s\n", quote(cond), c.path[len(c.path)-1], quote(c.summary))
		}
		for _, word := range n.words {
			fmt.Fprintf(b, "complete -c lienthong -n %s -a %s\n", quote(cond), word)
		}
		for _, f := range n.flags {
			req := ""
			if f.arg != "" {
				req = " -r -F"
			}
			fmt.Fprintf(b, "complete -c lienthong -n %s -l %s%s -d %s\n", quote(cond), f.name, req, quote(f.usage))
		}
	})
}
