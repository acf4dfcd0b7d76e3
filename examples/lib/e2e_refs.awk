# Prints the references of E2E csv files (columns mr,ref) as a plain-text corpus, one
# reference per paragraph (blank-line separated: `peft pretrain --corpus` reads paragraphs).
#   awk -f e2e_refs.awk EXCLUDE.csv TRAIN.csv
# References of the first file are left out of the corpus, so a model pretrained on it has
# never read a test reference (a few short ones, e.g. duplicates, occur in both sets).
# Plain POSIX awk (mawk): quoted fields may hold commas, doubled quotes and newlines.

# True while `s` holds an odd number of quotes, i.e. a quoted field continues on the next line.
function open_quote(s,   n, i) {
  n = 0
  for (i = 1; i <= length(s); i++) if (substr(s, i, 1) == "\"") n++
  return n % 2
}

# The last field of one csv record (the reference), unquoted.
function last_field(rec,   i, c, q, field) {
  q = 0; field = ""
  for (i = 1; i <= length(rec); i++) {
    c = substr(rec, i, 1)
    if (c == "\"") {
      if (q && substr(rec, i + 1, 1) == "\"") { field = field "\""; i++ }
      else q = !q
    } else if (c == "," && !q) field = ""
    else field = field c
  }
  return field
}

function handle(rec,   ref) {
  ref = last_field(rec)
  gsub(/[ \t\r\n]+/, " ", ref); sub(/^ /, "", ref); sub(/ $/, "", ref)
  if (ref == "") return
  if (FILENAME == ARGV[1]) excluded[ref] = 1
  else if (!(ref in excluded)) printf "%s\n\n", ref
}

FNR == 1 { pending = ""; next }  # the header
{
  pending = pending == "" ? $0 : pending "\n" $0
  if (!open_quote(pending)) { handle(pending); pending = "" }
}
