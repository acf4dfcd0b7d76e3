#!/usr/bin/python3
"""Generates tests/app/data/metric_vectors.json, the expected values for test_metrics.cpp.

How the expected values were made: no sacrebleu / e2e-metrics / pycocoevalcap package is
installed here (and no network), so this script re-implements the reference algorithms in
plain Python, transcribed line by line from their sources:
  - sacreBLEU 2.x: sacrebleu/tokenizers/tokenizer_13a.py + tokenizer_re.py (the regexes are
    used verbatim with Python's `re`, so the C++ tokeniser is checked against the real regex
    engine), sacrebleu/metrics/bleu.py (compute_bleu, _get_closest_ref_len, rstrip, dropping
    empty references).
  - e2e-metrics: metrics/pymteval.py (BLEUScore, NISTScore, tokenize; lowercasing with
    str.lower()).
  - coco-caption: pycocoevalcap/rouge/rouge.py (beta 1.2) and cider/cider_scorer.py
    (CIDEr-D with the zero-norm guard of the maintained version).
The script also checks itself against sacreBLEU's own unit-test values (test_bleu.py), so the
transcription of sacreBLEU is verified before any vector is written.
Run: /usr/bin/python3 tests/app/data/gen_metric_vectors.py  (rewrites metric_vectors.json)
"""
import json
import math
import os
import re
from collections import Counter, defaultdict

# ---------------------------------------------------------------- sacreBLEU
_RE = [(re.compile(r'([\{-\~\[-\` -\&\(-\+\:-\@\/])'), r' \1 '),
       (re.compile(r'([^0-9])([\.,])'), r'\1 \2 '),
       (re.compile(r'([\.,])([^0-9])'), r' \1 \2'),
       (re.compile(r'([0-9])(-)'), r'\1 \2 ')]


def tok13a(line):
    line = line.replace('<skipped>', '').replace('-\n', '').replace('\n', ' ')
    line = line.replace('&quot;', '"').replace('&amp;', '&').replace('&lt;', '<').replace('&gt;', '>')
    line = ' {} '.format(line)
    for r, repl in _RE:
        line = r.sub(repl, line)
    return ' '.join(line.strip().split())


def ngrams(tokens, lo, hi):
    return Counter(tuple(tokens[i:i + n]) for n in range(lo, hi + 1) for i in range(len(tokens) - n + 1))


def compute_bleu(correct, total, sys_len, ref_len, smooth='none', value=None, eff=False, order=4):
    if value is None:
        value = {'none': None, 'floor': 0.1, 'add-k': 1, 'exp': None}[smooth]
    bp = (math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0) if sys_len < ref_len else 1.0
    prec = [0.0] * order
    if not any(correct):
        return 0.0
    correct, total = list(correct), list(total)
    sm, eff_order = 1., order
    for n in range(1, order + 1):
        if smooth == 'add-k' and n > 1:
            correct[n - 1] += value
            total[n - 1] += value
        if total[n - 1] == 0:
            break
        if eff:
            eff_order = n
        if correct[n - 1] == 0:
            if smooth == 'exp':
                sm *= 2
                prec[n - 1] = 100. / (sm * total[n - 1])
            elif smooth == 'floor':
                prec[n - 1] = 100. * value / total[n - 1]
        else:
            prec[n - 1] = 100. * correct[n - 1] / total[n - 1]
    lg = lambda x: -9999999999 if x == 0 else math.log(x)
    return bp * math.exp(sum(lg(p) for p in prec[:eff_order]) / eff_order)


def corpus_bleu(hyps, refs, tokenize='13a', smooth='exp', value=None, eff=False, order=4):
    """refs[i] = references of hyps[i]."""
    tok = tok13a if tokenize == '13a' else (lambda s: s)
    correct, total = [0] * order, [0] * order
    sys_len = ref_len = 0
    for hyp, rs in zip(hyps, refs):
        rs = [r for r in rs if r]
        merged, lens = Counter(), []
        for r in rs:
            t = tok(r.rstrip()).split()
            lens.append(len(t))
            for g, c in ngrams(t, 1, order).items():
                merged[g] = max(merged[g], c)
        h = tok(hyp.rstrip()).split()
        best, bd = -1, -1
        for l in lens:
            d = abs(len(h) - l)
            if bd == -1 or d < bd:
                bd, best = d, l
            elif d == bd and l < best:
                best = l
        for g, c in ngrams(h, 1, order).items():
            total[len(g) - 1] += c
            if g in merged:
                correct[len(g) - 1] += min(c, merged[g])
        sys_len += len(h)
        ref_len += best
    return compute_bleu(correct, total, sys_len, ref_len, smooth, value, eff, order)


# ---------------------------------------------------------------- pymteval (E2E)
def mt_tok(sent):
    sent = re.sub(r'<skipped>', r'', sent)
    sent = re.sub(r'-\n', r'', sent)
    sent = re.sub(r'\n', r' ', sent)
    for a, b in (('&quot;', '"'), ('&amp;', '&'), ('&lt;', '<'), ('&gt;', '>')):
        sent = re.sub(a, b, sent)
    sent = ' ' + sent + ' '
    for r, repl in _RE:
        sent = r.sub(repl, sent)
    sent = re.sub(r'\s+', r' ', sent).strip()
    return sent.split(' ')


def mt_ngrams(n, sent):
    return list(zip(*[[t.lower() for t in sent[i:]] for i in range(n)]))


def mt_counts(n, sents):
    merged = {}
    for s in sents:
        c = Counter(mt_ngrams(n, s))
        for g, k in c.items():
            merged[g] = max(merged.get(g, 0), k)
    return merged


def mteval_bleu(hyps, refs, order=4):
    hits, cand, ref_len = [0] * order, [0] * order, 0
    for hyp, rs in zip(hyps, refs):
        h, rs = mt_tok(hyp), [mt_tok(r) for r in rs]
        for i in range(order):
            m, p = mt_counts(i + 1, rs), mt_counts(i + 1, [h])
            hits[i] += sum(min(m.get(g, 0), c) for g, c in p.items())
            cand[i] += len(h) - i
        ref_len += len(min(rs, key=lambda r: (abs(len(r) - len(h)), len(r))))
    bp = 1.0
    if cand[0] <= ref_len:
        bp = math.exp(1.0 - ref_len / (float(cand[0]) if cand[0] else 1e-5))
    s = sum(math.log(max(hh, 1e-15) / max(l, 1e-9)) for hh, l in zip(hits, cand))
    return bp * math.exp(s / order)


def mteval_nist(hyps, refs, order=5):
    ref_ngrams = [defaultdict(int) for _ in range(order + 1)]
    hit_ngrams = [[] for _ in range(order)]
    cand = [[] for _ in range(order)]
    avg = 0.0
    for hyp, rs in zip(hyps, refs):
        h, rs = mt_tok(hyp), [mt_tok(r) for r in rs]
        for n in range(order):
            cand[n].append(len(h) - n)
            m, p = mt_counts(n + 1, rs), mt_counts(n + 1, [h])
            hit_ngrams[n].append({g: min(p[g], m.get(g, 0)) for g in p if min(p[g], m.get(g, 0))})
            for r in rs:
                for g in mt_ngrams(n + 1, r):
                    ref_ngrams[n + 1][g] += 1
        s = sum(len(r) for r in rs)
        ref_ngrams[0][()] += s
        avg += s / float(len(rs))

    def info(g):
        return math.log(ref_ngrams[len(g) - 1][g[:-1]] / float(ref_ngrams[len(g)][g]), 2)
    infos = [sum(info(g) * k for hn in hit_ngrams[n] for g, k in hn.items()) for n in range(order)]
    lens = [sum(cand[n]) or 1 for n in range(order)]
    total = sum(i / l for i, l in zip(infos, lens))
    ratio = sum(cand[0]) / avg
    beta = -math.log(0.5) / math.log(1.5) ** 2
    bp = 1 if ratio >= 1 else (0 if ratio <= 0 else math.exp(-beta * math.log(ratio) ** 2))
    return bp * total


# ---------------------------------------------------------------- coco-caption
def lcs(a, b):
    if len(a) < len(b):
        a, b = b, a
    L = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for j in range(1, len(b) + 1):
        for i in range(1, len(a) + 1):
            L[i][j] = L[i - 1][j - 1] + 1 if a[i - 1] == b[j - 1] else max(L[i - 1][j], L[i][j - 1])
    return L[len(a)][len(b)]


def rouge_l(hyps, refs, beta=1.2):
    scores = []
    for hyp, rs in zip(hyps, refs):
        c = hyp.split(' ')
        prec, rec = [], []
        for r in rs:
            t = r.split(' ')
            l = lcs(t, c)
            prec.append(l / float(len(c)))
            rec.append(l / float(len(t)))
        p, r = max(prec), max(rec)
        scores.append((1 + beta ** 2) * p * r / float(r + beta ** 2 * p) if p != 0 and r != 0 else 0.0)
    return sum(scores) / len(scores)


def cider(hyps, refs, n=4, sigma=6.0):
    def precook(s):
        w = s.split()
        c = defaultdict(int)
        for k in range(1, n + 1):
            for i in range(len(w) - k + 1):
                c[tuple(w[i:i + k])] += 1
        return c
    crefs = [[precook(r) for r in rs] for rs in refs]
    ctest = [precook(h) for h in hyps]
    df = defaultdict(float)
    for rs in crefs:
        for g in set(g for r in rs for g in r):
            df[g] += 1
    ref_len = math.log(float(len(crefs)))

    def vec(cnts):
        v = [defaultdict(float) for _ in range(n)]
        norm = [0.0] * n
        length = 0
        for g, tf in cnts.items():
            d = math.log(max(1.0, df[g]))
            k = len(g) - 1
            v[k][g] = float(tf) * (ref_len - d)
            norm[k] += v[k][g] ** 2
            if k == 1:
                length += tf
        return v, [math.sqrt(x) for x in norm], length

    def sim(vh, vr, nh, nr, lh, lr):
        delta = float(lh - lr)
        val = [0.0] * n
        for k in range(n):
            for g in vh[k]:
                val[k] += min(vh[k][g], vr[k][g]) * vr[k][g]
            if nh[k] != 0 and nr[k] != 0:
                val[k] /= nh[k] * nr[k]
            val[k] *= math.e ** (-(delta ** 2) / (2 * sigma ** 2))
        return val

    scores = []
    for t, rs in zip(ctest, crefs):
        vh, nh, lh = vec(t)
        acc = [0.0] * n
        for r in rs:
            vr, nr, lr = vec(r)
            acc = [a + b for a, b in zip(acc, sim(vh, vr, nh, nr, lh, lr))]
        scores.append(sum(acc) / n / len(rs) * 10.0)
    return sum(scores) / len(scores), scores


# ---------------------------------------------------------------- self-check + vectors
def self_check():
    """sacreBLEU's own test values (test/test_bleu.py, test_sentence_bleu.py)."""
    refs = [['The dog bit the man.', 'The dog had bit the man.'],
            ['It was not unexpected.', 'No one was surprised.'],
            ['The man bit him first.', 'The man had bitten the dog.']]
    hyps = ['The dog bit the man.', "It wasn't surprising.", 'The man had just bitten him.']
    assert abs(corpus_bleu(hyps, refs) - 48.530827) < 1e-6
    assert abs(corpus_bleu(hyps, refs, tokenize='none') - 49.1919566) < 1e-6
    assert corpus_bleu(['', '', ''], refs) == 0.0
    assert abs(corpus_bleu(['this is a fest'], [['this is a test']], 'none', 'floor', .01, True) / 100
               - 0.223606797749979) < 1e-8
    assert abs(corpus_bleu(['a little test'], [['a test']], 'none', 'floor', .01, True) / 100
               - 0.03218297948685433) < 1e-8
    sys_ = "Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;"
    ref = "producţia de zahăr brut se exprimă în zahăr alb;"
    assert abs(corpus_bleu([sys_], [[ref]], eff=True) - 8.493) < 1e-3
    assert abs(corpus_bleu([sys_], [[ref]], smooth='add-k', value=2, eff=True) - 21.389) < 1e-3


TOKENIZER_CASES = [
    "Hello, world!", "It costs $3.50, or 3,000 yen.", "1990-2000 and 20-25 pounds",
    "e.g. U.S.A. ... wait...", "He said &quot;hi&quot; &amp; left &lt;now&gt;",
    "a-\nb c\nd", "<skipped> word", "(parens) [brackets] {braces} ~tilde~ `tick` ^caret_",
    "x..y,,z", "3.14.15 1,2.3", "email: a@b.com / path\\to", "No\u00a0break\u2009thin",
    "Café £20-25 near Café Brazil.", "end with dash-", "  leading and trailing  ",
    "'quoted' \"double\" don't", "9-", "-9-", "a.b", "1.a", "a.1", ",.", "£30.",
]


def main():
    self_check()
    here = os.path.dirname(os.path.abspath(__file__))
    tok = [{'in': s, 'out': tok13a(s)} for s in TOKENIZER_CASES]
    lower = ''.join(chr(c) for c in list(range(0x41, 0x5B)) + list(range(0xC0, 0x17F)) +
                    list(range(0x391, 0x3AC)) + list(range(0x400, 0x430)) if len(chr(c).lower()) == 1)
    # A small E2E-like corpus with 1-3 references per segment, short segments included.
    hyps = ["The Eagle is a coffee shop near Burger King.",
            "Blue Spice is a family-friendly pub in the city centre, it has a 5 out of 5 rating.",
            "Cheap Chinese food at The Wrestlers.",
            "Zizzi",
            "Café Rouge serves French food for £20-25 and is rated 3 out of 5."]
    refs = [["The Eagle coffee shop is near Burger King.", "Near Burger King is The Eagle, a coffee shop."],
            ["Blue Spice is a family friendly pub in the city centre rated 5 out of 5.",
             "In the city centre, the pub Blue Spice is family-friendly.",
             "Blue Spice pub, city centre, is kid friendly and has a customer rating of 5 out of 5."],
            ["The Wrestlers serves cheap Chinese food."],
            ["Zizzi is a pub.", "There is a pub called Zizzi."],
            ["Café Rouge has French food in the £20-25 price range with a rating of 3 out of 5.",
             "For £20-25, Café Rouge offers French food; customers rate it 3 out of 5."]]
    coco_h = [tok13a(h).lower() for h in hyps]
    coco_r = [[tok13a(r).lower() for r in rs] for rs in refs]
    out = {
        'tokenize_13a': tok,
        'lowercase': {'in': lower, 'out': lower.lower()},
        'corpus': {'hyps': hyps, 'refs': refs,
                   'sacrebleu': corpus_bleu(hyps, refs),
                   'sacrebleu_none_tok': corpus_bleu(hyps, refs, tokenize='none'),
                   'sacrebleu_floor': corpus_bleu(hyps, refs, smooth='floor'),
                   'sacrebleu_addk': corpus_bleu(hyps, refs, smooth='add-k'),
                   'sacrebleu_sentences': [corpus_bleu([h], [r], eff=True) for h, r in zip(hyps, refs)],
                   'mteval_bleu': mteval_bleu(hyps, refs),
                   'mteval_nist': mteval_nist(hyps, refs),
                   'coco_hyps': coco_h, 'coco_refs': coco_r,
                   'rouge_l': rouge_l(coco_h, coco_r),
                   'cider': cider(coco_h, coco_r)[0],
                   'cider_segments': cider(coco_h, coco_r)[1]},
    }
    with open(os.path.join(here, 'metric_vectors.json'), 'w', encoding='utf-8') as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
