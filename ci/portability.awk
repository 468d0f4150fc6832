# Every check of ci/portability.sh in one pass over the scripts (awk, as a
# stock Mac's awk runs it: no gawk extension, no local arrays, no length() of
# an array). Run as
#   awk -v rules=ci/portability.rules -f ci/portability.awk FILE...
# it prints FILE:LINE: WHY[: DETAIL] for each finding; with -v gen=1 and no
# FILE it prints instead, for the self-test, lines that use every option of
# every command of the rules' tables, one command per line.
#
# The rules (ci/portability.rules) are of two kinds. A regular expression is
# matched against each line with its comments removed. The checks @options,
# @order and @commands read the script as the shell does: words with their
# quotes removed, $(...), `...` and <(...) read as commands of their own,
# pipelines and lists split, redirections and here-documents set aside, and
# each simple command's words checked against the table of its command.

# --- The rules -----------------------------------------------------------------
function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
function load(   line, key, val, n, i, parts, t, a, name) {
  NR_RULES = 0; NT = 0; t = ""
  while ((getline line < rules) > 0) {
    if (line ~ /^#/ || line !~ /^[a-z]+:/) continue
    key = line; sub(/:.*/, "", key)
    val = trim(substr(line, length(key) + 2))
    if (key == "why") { NR_RULES++; WHY[NR_RULES] = val; t = ""; continue }
    if (key == "re") { RE[NR_RULES] = val; if (val ~ /^@/) SPECIAL[val] = NR_RULES; continue }
    if (key == "lacks") {
      name = val; sub(/:.*/, "", name); LACKS[name] = trim(substr(val, length(name) + 2)); continue
    }
    if (key == "tool") {
      NT++; n = split(val, parts, /[ \t]+/); t = parts[1]; TNAME[NT] = t
      for (i = 1; i <= n; i++) TOOL[parts[i]] = t
      ORDER[t] = "stop"; continue
    }
    if (t == "") continue
    if (key == "flags" || key == "args" || key == "glued" || key == "query") {
      n = split(val, parts, /[ \t]+/)
      for (i = 1; i <= n; i++) OPT[t, key, parts[i]] = 1
      LIST[t, key] = val; continue
    }
    if (key == "long") {
      n = split(val, parts, /[ \t]+/)
      for (i = 1; i <= n; i++) {
        a = parts[i]
        if (a ~ /\[=\]$/) { sub(/\[=\]$/, "", a); LONG[t, a] = "opt" }
        else if (a ~ /=$/) { sub(/=$/, "", a); LONG[t, a] = "arg" }
        else LONG[t, a] = "none"
      }
      LIST[t, key] = val; continue
    }
    if (key == "primaries" || key == "primargs" || key == "primexec") {
      n = split(val, parts, /[ \t]+/)
      for (i = 1; i <= n; i++) PRIM[t, parts[i]] = key
      LIST[t, key] = val; continue
    }
    if (key == "order") { ORDER[t] = val; continue }
    if (key == "then") { THEN[t] = val; continue }
    if (key == "style") { STYLE[t] = val; continue }
    if (key == "numbers") { NUMBERS[t] = 1; continue }
    if (key == "man") { MAN[t] = val; continue }
  }
  close(rules)
}
# What a command takes, in one line, for a finding's message.
function dashed(list,   n, parts, j, s) {
  n = split(list, parts, / /); s = ""
  for (j = 1; j <= n; j++) s = s (j > 1 ? " " : "") "-" parts[j]
  return s
}
function takes(t,   s) {
  s = ""
  if (LIST[t, "flags"] != "") s = dashed(LIST[t, "flags"])
  if (LIST[t, "args"] != "") s = s (s == "" ? "" : ", ") dashed(LIST[t, "args"]) " with an argument"
  if (LIST[t, "glued"] != "") s = s (s == "" ? "" : ", ") dashed(LIST[t, "glued"]) " with a glued one"
  if (s == "") s = "no options"
  if (LIST[t, "long"] != "") s = s "; long options: ci/portability.rules"
  return s
}

# --- Findings ----------------------------------------------------------------
function finding(rule, line, detail) {
  if (!(rule in SPECIAL) || OKLINE[line]) return
  print FILE ":" line ": " WHY[SPECIAL[rule]] (detail == "" ? "" : ": " detail)
}

# --- Reading the shell: characters ------------------------------------------
function nx() { if (substr(T, P, 1) == "\n") LN++; P++ }
function ch() { return substr(T, P, 1) }
function peek(k) { return substr(T, P + k, 1) }

# ${...} at P (on "{"), to its matching brace.
function skip_brace(   depth, c) {
  depth = 0
  while (P <= L) {
    c = ch()
    if (c == "\\") { nx(); nx(); continue }
    if (c == "'") { nx(); while (P <= L && ch() != "'") nx(); nx(); continue }
    if (c == "\"") { nx(); dq(0); continue }
    if (c == "{") depth++
    else if (c == "}") { depth--; if (depth == 0) { nx(); return } }
    nx()
  }
}
# $((...)) or ((...)) at P (on the first "("), to its matching parenthesis.
function skip_paren(   depth, c) {
  depth = 0
  while (P <= L) {
    c = ch()
    if (c == "(") depth++
    else if (c == ")") { depth--; if (depth == 0) { nx(); return } }
    nx()
  }
}
# An expansion at P (on "$"): its text, "\001" for what is known only when it
# runs (a command substitution's commands are read as commands). ARRAYISH is
# set when it may expand to several words ($@, $*, ${a[@]}).
function dollar(   n, p0) {
  n = peek(1); ARRAYISH = 0
  if (n == "(" && peek(2) == "(") { nx(); skip_paren(); return "\001" }
  if (n == "(") { nx(); nx(); sub_seq(")"); return "\001" }
  if (n == "{") { p0 = P; nx(); skip_brace(); if (substr(T, p0, P - p0) ~ /\[[@*]\]/) ARRAYISH = 1; return "\001" }
  if (n == "'") { nx(); nx(); return ansi() }
  if (n == "\"") { nx(); return "" }
  if (n ~ /[A-Za-z_]/) { nx(); while (P <= L && ch() ~ /[A-Za-z0-9_]/) nx(); return "\001" }
  if (n ~ /[@*]/) { nx(); nx(); ARRAYISH = 1; return "\001" }
  if (n ~ /[0-9#?$!-]/) { nx(); nx(); return "\001" }
  nx(); return "$"
}
# $'...' after the quote.
function ansi(   s, c) {
  s = ""
  while (P <= L && (c = ch()) != "'") { if (c == "\\") { nx(); c = ch() } s = s c; nx() }
  nx(); return s
}
# "..." after the opening quote (hd = 0), or a here-document's body up to
# HDEND (hd = 2: quotes are plain characters there).
function dq(hd,   s, c) {
  s = ""
  while (P <= L) {
    if (hd == 2 && P >= HDEND) return s
    c = ch()
    if (c == "\"" && hd != 2) { nx(); return s }
    if (c == "\\") {
      nx(); c = ch()
      if (c == "\n") { nx(); continue }
      if (c !~ /[$`"\\]/) s = s "\\"
      s = s c; nx(); continue
    }
    if (c == "$") { s = s dollar(); continue }
    if (c == "`") { nx(); sub_seq("`"); s = s "\001"; continue }
    s = s c; nx()
  }
  return s
}
# Shell code in a string (trap's action): read as a script of its own.
function as_script(text, line,   t0, p0, l0, ln0, nhd0) {
  t0 = T; p0 = P; l0 = L; ln0 = LN; nhd0 = NHD
  T = text "\n"; P = 1; L = length(T); LN = line; NHD = 0
  sub_seq("")
  T = t0; P = p0; L = l0; LN = ln0; NHD = nhd0
}
function sub_seq(term) { D++; N[D] = 0; PD[D] = 0; SKIP[D] = 0; seq(term); D-- }

# One word at P: its text with the quotes removed. WKIND tells how it starts:
# "lit" (with a character of its own), "qvar" (with a quoted expansion of one
# word: an operand), "dyn" (with anything that may become several words, or
# none).
function word(   s, c, t) {
  s = ""; WKIND = ""
  while (P <= L) {
    c = ch()
    if (c ~ /[ \t\n;&|<>()]/) {
      if (c == "(" && s ~ /^[A-Za-z_][A-Za-z0-9_]*(\[.*\])?\+?=$/) { skip_paren(); s = s "\001"; continue }
      if ((c == "<" || c == ">") && peek(1) == "(" && s == "") { nx(); nx(); sub_seq(")"); s = "\001"; WKIND = "dyn"; continue }
      break
    }
    if (c == "`" && TERM[D] == "`") break
    if (c == "\\") {
      nx(); if (ch() == "\n") { nx(); continue }
      if (WKIND == "") WKIND = "lit"
      s = s ch(); nx(); continue
    }
    if (c == "'") {
      nx(); if (WKIND == "") WKIND = "lit"
      while (P <= L && ch() != "'") { s = s ch(); nx() }
      nx(); continue
    }
    if (c == "\"") {
      nx(); ARRAYISH = 0; t = dq(0)
      if (WKIND == "" && t != "") WKIND = (substr(t, 1, 1) == "\001") ? (ARRAYISH ? "dyn" : "qvar") : "lit"
      s = s t; continue
    }
    if (c == "$") { t = dollar(); if (WKIND == "" && t != "") WKIND = (t == "\001") ? "dyn" : "lit"; s = s t; continue }
    if (c == "`") { nx(); sub_seq("`"); if (WKIND == "") WKIND = "dyn"; s = s "\001"; continue }
    if (WKIND == "") WKIND = "lit"
    s = s c; nx()
  }
  if (WKIND == "") WKIND = "lit"
  return s
}
# The here-documents announced on the line just ended: their bodies are not
# commands, but an unquoted one's $(...) are.
function heredocs(   k, e, line, d, p0) {
  for (k = 1; k <= NHD; k++) {
    while (P <= L) {
      e = index(substr(T, P), "\n"); if (e == 0) e = L - P + 2
      line = substr(T, P, e - 1); d = line
      if (HDT[k]) sub(/^\t+/, "", d)
      if (d == HDW[k]) { P += e; LN++; break }
      if (!HDQ[k]) { HDEND = P + e - 1; p0 = P; dq(2); P = p0 + e }
      else P += e
      LN++
    }
  }
  NHD = 0
}
# A redirection at P: its operator and its target word, set aside.
function redir(   c, op, w, q) {
  op = ""
  while (P <= L && (c = ch()) ~ /[<>&|-]/) {
    if (c == "-" && op != "<<" && op != ">&" && op != "<&") break
    op = op c; nx()
    if (op == "<<<" || op == "<<-") break
  }
  while (P <= L && ch() ~ /[ \t]/) nx()
  if (op == "<<" || op == "<<-") {
    q = (substr(T, P, 64) ~ /^[^ \t\n;&|<>()]*['"\\]/)
    w = word(); gsub(/\001/, "$", w)
    NHD++; HDW[NHD] = w; HDQ[NHD] = q; HDT[NHD] = (op == "<<-")
    return
  }
  word()
}

# A list of commands up to TERM (")" of $(, "`", or the end of the text).
function seq(term,   c, w, l) {
  TERM[D] = term
  while (P <= L) {
    c = ch()
    if (c == " " || c == "\t") { nx(); continue }
    if (c == "\\" && peek(1) == "\n") { nx(); nx(); continue }
    if (c == "#") { while (P <= L && ch() != "\n") nx(); continue }
    if (c == "\n") { endcmd(); nx(); if (NHD) heredocs(); continue }
    if (term == "`" && c == "`") { endcmd(); nx(); return }
    if (SKIP[D] && c ~ /[()|&<>]/) { nx(); continue }
    if (c == ")") {
      if (term == ")" && PD[D] == 0) { endcmd(); nx(); return }
      if (PD[D] > 0) PD[D]--
      endcmd(); nx(); continue
    }
    if (c == "(") {
      if (peek(1) == "(" && N[D] == 0) { skip_paren(); continue }
      PD[D]++; endcmd(); nx(); continue
    }
    if (c == ";" || c == "|") { endcmd(); nx(); continue }
    if (c == "&") { if (peek(1) == ">") { nx(); redir(); continue } endcmd(); nx(); continue }
    if ((c == "<" || c == ">") && peek(1) != "(") { redir(); continue }
    l = LN
    w = word()
    if ((ch() == "<" || ch() == ">") && w ~ /^[0-9]+$/ && WKIND == "lit") { redir(); continue }
    N[D]++; W[D, N[D]] = w; WL[D, N[D]] = l; WK[D, N[D]] = WKIND
    if (w == "[[" && N[D] == 1) SKIP[D] = 1
    else if (w == "]]" && SKIP[D]) SKIP[D] = 0
  }
  endcmd()
}
function endcmd() { if (N[D] > 0) check(1, N[D]); N[D] = 0; SKIP[D] = 0 }

# --- Checking one simple command: words K..E of level D ---------------------
function is_assign(w) { return w ~ /^[A-Za-z_][A-Za-z0-9_]*(\[.*\])?\+?=/ }
function check(k, e,   w, t) {
  while (k <= e) {
    w = W[D, k]
    if (WK[D, k] == "lit" && is_assign(w)) { k++; continue }
    if (w ~ /^(if|then|else|elif|do|while|until|!|\{|\}|fi|done|esac)$/) { k++; continue }
    if (w == "time") { k++; if (k <= e && W[D, k] == "-p") k++; continue }
    break
  }
  if (k > e) return
  w = W[D, k]
  if (WK[D, k] != "lit" || index(w, "\001")) return
  if (w ~ /^(for|case|select|function|\[\[|\]\]|in)$/) return
  if (w ~ /\//) { if (w !~ /^\/(usr\/)?s?bin\/[^\/]+$/) return; sub(/.*\//, "", w) }
  if (w in FUNCS) return
  if (w in LACKS) { finding("@commands", WL[D, k], w ": " LACKS[w]); return }
  if (!(w in TOOL)) return
  t = TOOL[w]
  if (STYLE[t] == "find") find_cmd(t, k, e)
  else getopt_cmd(t, k, e)
}
function bad_option(t, k, opt, why) {
  finding("@options", WL[D, k], t " " opt ": " why)
}
# Whose command it is, for a message.
function owner(t) { return (MAN[t] ~ /^bash-/) ? "bash 3.2's" : "macOS's" }
# A command whose options end at "--" or, unless it permutes, at the first
# operand. With then: command, the first operand starts a command of its own.
function getopt_cmd(t, k, e,   i, w, j, c, n, name, seen, query, bundle) {
  seen = ""; query = 0
  for (i = k + 1; i <= e; i++) {
    w = W[D, i]
    if (WK[D, i] == "dyn") continue
    if (w == "--" && WK[D, i] == "lit") { i++; break }
    if (WK[D, i] == "lit" && w ~ /^-./ && !(NUMBERS[t] && w ~ /^-[0-9.]+$/) && !((THEN[t] == "data" || THEN[t] == "code") && seen != "")) {
      if (seen != "" && ORDER[t] != "permute") {
        finding("@order", WL[D, i], t " " w " after the operand " seen); continue
      }
      if (substr(w, 1, 2) == "--") {
        name = substr(w, 3); sub(/[=\001].*/, "", name)
        if (!((t, name) in LONG)) {
          bad_option(t, i, "--" name, LIST[t, "long"] == "" ? owner(t) " " t " takes no long options (" takes(t) ")" : "not among the long options of " owner(t) " " t)
          return
        }
        if (LONG[t, name] == "arg" && index(w, "=") == 0) i++
        if (LONG[t, name] == "none" && index(w, "=")) bad_option(t, i, w, "--" name " takes no argument")
        continue
      }
      n = length(w)
      for (j = 2; j <= n; j++) {
        c = substr(w, j, 1)
        if (c == "\001") break
        if ((t, "flags", c) in OPT) { if ((t, "query", c) in OPT) query = 1; continue }
        if ((t, "args", c) in OPT) { if (j == n) i++; break }
        if ((t, "glued", c) in OPT) break
        bad_option(t, i, "-" c, "not an option of " owner(t) " " t " (" takes(t) ")")
        return
      }
      continue
    }
    # An operand.
    if (STYLE[t] == "tar" && seen == "" && i == k + 1 && WK[D, i] == "lit") {
      # The bundled form: tar xzf FILE.
      n = length(w); bundle = 0
      for (j = 1; j <= n; j++) {
        c = substr(w, j, 1)
        if ((t, "flags", c) in OPT) continue
        if ((t, "args", c) in OPT) { bundle++; continue }
        bad_option(t, i, c, "not a letter of macOS's " t " (" takes(t) ")"); return
      }
      i += bundle; continue
    }
    if (THEN[t] == "command") { if (!query) check(i, e); return }
    if (THEN[t] == "code" && seen == "" && WK[D, i] == "lit") as_script(w, WL[D, i])
    if (seen == "") seen = w
  }
  if (THEN[t] == "command" && i <= e && !query) check(i, e)
}
# find: options, paths, then an expression of primaries; -exec's command is
# checked as a command.
function find_cmd(t, k, e,   i, w, j, c, n, kind) {
  for (i = k + 1; i <= e && WK[D, i] == "lit" && W[D, i] ~ /^-./; i++) {
    w = W[D, i]
    if (w == "--") { i++; break }
    n = length(w)
    for (j = 2; j <= n; j++) {
      c = substr(w, j, 1)
      if ((t, "flags", c) in OPT) continue
      if ((t, "args", c) in OPT) { if (j == n) i++; break }
      if ((t, w) in PRIM) finding("@options", WL[D, i], "find " w ": macOS's find needs a path before its expression (find . " w " ...)")
      else bad_option(t, i, "-" c, "not an option of macOS's find (" takes(t) ")")
      return
    }
  }
  for (; i <= e; i++) {
    w = W[D, i]
    if (WK[D, i] != "lit" || w !~ /^[-!()]/) continue
    kind = ((t, w) in PRIM) ? PRIM[t, w] : ""
    if (w == "-depth" && i < e && W[D, i + 1] ~ /^[-+]?[0-9]+$/) { i++; continue }
    if (w ~ /^-newer[aBcm][aBcmt]$/) kind = "primargs"
    if (kind == "primaries") continue
    if (kind == "primargs") { i++; continue }
    if (kind == "primexec") {
      for (j = i + 1; j <= e; j++) if (W[D, j] == ";" || (W[D, j] == "+" && W[D, j - 1] == "{}")) break
      if (j > i + 1) check(i + 1, j - 1)
      i = j; continue
    }
    bad_option(t, i, w, "not a primary of macOS's find (its primaries: ci/portability.rules)")
  }
}

# --- One script ---------------------------------------------------------------
function script(   i, j, line, code, n, r, name, rest, re2, names, k) {
  if (FILE == "") return
  n = NL_
  split("", OKLINE); split("", FUNCS)
  for (i = 1; i <= n; i++) {
    line = RAW[i]
    if (index(line, "# portability: ok")) { OKLINE[i] = 1; CODE[i] = ""; continue }
    code = line; sub(/^[ \t]*#.*/, "", code); sub("[ \t]+#[^\"']*$", "", code)
    CODE[i] = code
    if (code ~ /^[ \t]*(function[ \t]+)?[A-Za-z_][A-Za-z0-9_-]*[ \t]*\(\)/) {
      name = code; sub(/^[ \t]*(function[ \t]+)?/, "", name); sub(/[ \t]*\(.*/, "", name); FUNCS[name] = 1
    }
  }
  # The regular expressions.
  for (r = 1; r <= NR_RULES; r++) {
    if (RE[r] ~ /^@/ || RE[r] == "") continue
    for (i = 1; i <= n; i++) if (CODE[i] ~ RE[r]) print FILE ":" i ": " WHY[r]
  }
  # @empty-array: NAME=() or NAME=($...) or NAME=("$@"), expanded unguarded
  # as ${NAME[@]} or ${NAME[*]} in a script under set -u.
  if ("@empty-array" in SPECIAL) {
    k = 0
    for (i = 1; i <= n; i++) if (CODE[i] ~ /(^|[&;[:space:]])set[[:space:]]+(-[[:alpha:]]*u|-o[[:space:]]+nounset)/) k = 1
    split("", names)
    if (k) for (i = 1; i <= n; i++) {
      rest = CODE[i]
      while (match(rest, /(^|[^[:alnum:]_])[[:alpha:]_][[:alnum:]_]*=[(]([)]|"?[$])/)) {
        name = substr(rest, RSTART, RLENGTH); sub(/^[^[:alpha:]_]/, "", name); sub(/=.*/, "", name)
        names[name] = 1; rest = substr(rest, RSTART + RLENGTH)
      }
    }
    for (name in names) {
      re2 = "[$][{]" name "[[][@*][]]:?[+]\"[$][{]" name "[[][@*][]][}]\"[}]"
      for (i = 1; i <= n; i++) {
        line = CODE[i]; gsub(re2, "", line)
        if (line ~ ("[$][{]" name "[[][@*][]]")) print FILE ":" i ": " WHY[SPECIAL["@empty-array"]]
      }
    }
  }
  # The shell's words.
  T = ""
  for (i = 1; i <= n; i++) T = T RAW[i] "\n"
  P = 1; L = length(T); LN = 1; D = 0; N[0] = 0; PD[0] = 0; SKIP[0] = 0; NHD = 0
  seq("")
}

# --- The self-test's lines: every option of every table ---------------------
function gen_lines(   i, t, fl, ar, gl, lo, n, parts, j, s, all, op, a) {
  for (i = 1; i <= NT; i++) {
    t = TNAME[i]
    op = (THEN[t] == "command") ? "true" : "x"
    if (STYLE[t] == "find") {
      s = "find"
      n = split(LIST[t, "flags"], parts, / /); for (j = 1; j <= n; j++) s = s " -" parts[j]
      s = s " -f x . x"
      n = split(LIST[t, "primaries"], parts, / /)
      for (j = 1; j <= n; j++) { a = parts[j]; if (a == "(" || a == ")" || a == "!") a = "\\" a; s = s " " a }
      n = split(LIST[t, "primargs"], parts, / /); for (j = 1; j <= n; j++) s = s " " parts[j] " x"
      n = split(LIST[t, "primexec"], parts, / /); for (j = 1; j <= n; j++) s = s " " parts[j] " true {} \\;"
      print s " -newermt x -depth 2 -print"
      continue
    }
    s = t; all = ""
    n = split(LIST[t, "flags"], parts, / /); for (j = 1; j <= n; j++) { s = s " -" parts[j]; all = all parts[j] }
    n = split(LIST[t, "args"], parts, / /); for (j = 1; j <= n; j++) s = s " -" parts[j] " x -" parts[j] "x"
    n = split(LIST[t, "glued"], parts, / /); for (j = 1; j <= n; j++) s = s " -" parts[j] " -" parts[j] "x"
    n = split(LIST[t, "long"], parts, / /)
    for (j = 1; j <= n; j++) {
      a = parts[j]
      if (a ~ /\[=\]$/) { sub(/\[=\]$/, "", a); s = s " --" a " --" a "=x" }
      else if (a ~ /=$/) { sub(/=$/, "", a); s = s " --" a "=x --" a " x" }
      else s = s " --" a
    }
    print s " -- " op
    if (length(all) > 1) print t " -" all " " op
    print t " " op
  }
}

BEGIN { load(); if (gen) { gen_lines(); exit } }
FNR == 1 { script(); FILE = FILENAME; NL_ = 0 }
{ RAW[++NL_] = $0 }
END { if (!gen) script() }
