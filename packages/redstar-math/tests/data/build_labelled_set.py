"""Build ``verifier_labelled.jsonl``: labelled (response, gold, expected) pairs for MathVerifier.

Run from the repository root to regenerate the file (it is committed; the tests only read it)::

    python packages/redstar-math/tests/data/build_labelled_set.py

The pairs were written by hand, category by category, before the verifier existed, to state what
RedStar's math verifier must decide (``docs/math.md`` explains each rule). Each pair's final
answer is wrapped in a long response in one of several styles (box, "The answer is", Minerva's
"Final Answer:", GSM8K's "####", a ``<think>`` block), with distracting numbers in the reasoning,
so extraction is exercised together with equivalence. ``expected_reward`` is 1 (correct), 0
(wrong) or -1 (the response never commits to a final answer).

The ``math-solutions`` category uses real MATH test solutions (hendrycks/math, MIT licence) from
``math_solutions_sample.jsonl`` beside this script: each solution against its own answer (correct)
and against the answer of the next problem with a different answer (wrong).
"""

from __future__ import annotations

import json
import math
import zlib
from fractions import Fraction
from pathlib import Path

HERE = Path(__file__).parent

T, F = True, False

# (gold, final answer as the model writes it, equivalent?)
PAIRS: dict[str, list[tuple[str, str, bool]]] = {
    "integers": [
        ("27", "27", T), ("27", "27.0", T), ("025", "25", T), ("25", "025", T), ("-4", "-4", T),
        ("-4", "4", F), ("100", "1000", F), ("0", "0", T), ("0", "-0", T), ("7", "7.5", F),
        ("3", "3.00", T), ("42", "+42", T), ("5", r"\mathbf{5}", T), ("204", "240", F),
        ("113", "113", T), ("12", "12.", T), ("9", "10", F), ("1", "-1", F), ("2024", "2024", T),
        ("36", "6^2", T), ("64", "2^6", T), ("81", "3^5", F),
    ],
    "decimals": [
        ("0.5", r"\frac{1}{2}", T), ("0.5", ".5", T), ("0.25", "0.250", T), ("3.14", "3.15", F),
        ("1.5", r"\frac32", T), ("0.333", r"\frac{1}{3}", T), (r"\frac{1}{3}", "0.3333", T),
        (r"\frac{2}{3}", "0.67", F), (r"\frac{1}{3}", "0.3", F), ("2.5", "5/2", T), ("0.1", "0.01", F),
        ("1726.16", "1726.16", T), ("1726.16", "1726.2", F), ("0.75", r"\frac{3}{4}", T),
        ("12.5", r"\frac{25}{2}", T), ("-0.2", r"-\frac{1}{5}", T), ("0.2", r"-\frac15", F),
        ("2.718", "2.71", F), ("0.0625", r"\frac{1}{16}", T), ("4.0", "4", T),
    ],
    "fractions": [
        (r"\frac{1}{2}", r"\dfrac{1}{2}", T), (r"\frac12", r"\tfrac{1}{2}", T), (r"\frac{3}{4}", "3/4", T),
        (r"\frac{6}{8}", r"\frac34", T), (r"-\frac{1}{2}", r"\frac{-1}{2}", T), (r"-\frac12", r"\frac{1}{-2}", T),
        (r"\frac{1}{2}", r"\frac{2}{1}", F), (r"\frac{5}{3}", r"1\frac{2}{3}", T), (r"\frac{7}{2}", "3.5", T),
        (r"\frac{9}{4}", r"\frac{4}{9}", F), (r"\frac{10}{3}", r"\dfrac{10}{3}", T), (r"\frac{1}{6}", r"\frac{1}{5}", F),
        (r"\frac{3}{8}", r"\cfrac{3}{8}", T), (r"\frac{14}{3}", r"\frac{28}{6}", T), (r"\frac{5}{12}", "5 / 12", T),
        (r"\frac{1}{4}", r"\frac14", T), (r"\frac{2}{5}", "0.4", T), (r"\frac{11}{2}", r"5\frac{1}{2}", T),
        (r"-\frac{3}{2}", r"\frac{3}{2}", F), (r"\frac{1}{100}", "1/10", F),
    ],
    "radicals": [
        (r"2\sqrt{2}", r"\sqrt{8}", T), (r"\sqrt{2}", r"\sqrt2", T), (r"\frac{\sqrt{3}}{2}", r"\frac{1}{2}\sqrt{3}", T),
        (r"\sqrt{3}", "3^{1/2}", T), (r"\sqrt[3]{2}", "2^{1/3}", T), (r"\sqrt{2}", "2", F),
        (r"\frac{\sqrt{2}}{2}", r"\frac{1}{\sqrt{2}}", T), (r"2\sqrt{3}", r"3\sqrt{2}", F), (r"5\sqrt{2}", r"\sqrt{50}", T),
        (r"\sqrt{5}+1", r"1+\sqrt5", T), (r"4\sqrt{6}", r"\sqrt{96}", T), (r"\sqrt{10}", r"\sqrt{11}", F),
        (r"3+2\sqrt{2}", r"(1+\sqrt{2})^2", T), (r"\frac{1+\sqrt{5}}{2}", r"\frac{\sqrt{5}+1}{2}", T),
        (r"\frac{1+\sqrt{5}}{2}", r"\frac{1-\sqrt{5}}{2}", F), (r"6\sqrt{3}", r"6 \sqrt 3", T),
        (r"\sqrt{13}", "3.61", T), (r"2\sqrt{7}", r"\sqrt{7}", F),
    ],
    "pi": [
        (r"2\pi", "2π", T), (r"\frac{\pi}{2}", r"\pi/2", T), (r"4\pi", "4", F), (r"\pi", "3.14", T),
        (r"9\pi", "28.27", T), (r"12\pi", r"12\pi", T), (r"3\pi", r"\pi 3", T), (r"\frac{4}{3}\pi", r"\frac{4\pi}{3}", T),
        (r"16\pi", r"8\pi", F), (r"\frac{\pi}{6}", r"\frac{\pi}{3}", F), (r"25\pi", r"25 \pi \text{ square units}", T),
        (r"2\pi", "6.28", T), (r"\pi^2", r"\pi \cdot \pi", T), (r"36 - 9\pi", r"-9\pi + 36", T),
    ],
    "degrees": [
        ("30", r"30^\circ", T), (r"30^\circ", "30", T), ("45", r"45^{\circ}", T), ("60", "60°", T),
        ("60", r"120^\circ", F), ("90", "90 degrees", T), ("135", r"135^{\circ}", T), (r"75^\circ", r"75^{\circ}", T),
        ("150", r"105^\circ", F), ("36", r"36\text{ degrees}", T),
    ],
    "percent": [
        ("50", r"50\%", T), (r"25\%", "25", T), (r"20\%", "0.2", T), ("12.5", "12.5%", T), ("40", r"45\%", F),
        (r"30\%", r"30 \%", T), ("10", r"1\%", F), (r"75\%", r"\frac{3}{4}", T),
    ],
    "units-text": [
        ("5", r"5 \text{ cm}", T), ("12", r"12\text{ inches}", T), ("10", r"\$10", T), ("18", r"18 \text{ dollars}", T),
        ("24", r"24 \mbox{ square units}", T), ("6", r"6\text{cm}^2", T), ("7", r"8\text{ cm}", F),
        (r"\text{Evelyn}", "Evelyn", T), (r"\text{Monday}", r"\text{Tuesday}", F), ("20", r"20\text{ mph}", T),
        (r"\$18.90", "18.90", T), ("4", r"\text{4 hours}", T), (r"\text{no solution}", "No solution", T),
        ("yes", "Yes", T), (r"\text{odd}", r"\text{even}", F), ("15", r"15\ \text{meters}", T),
        (r"2.5\text{ km}", "2.5", T), ("3", r"3\text{ feet}", T), ("11", r"\textbf{11}", T),
    ],
    "thousands": [
        ("1000", "1,000", T), ("1000000", "1,000,000", T), ("12345", "12,345", T), ("1000", "1{,}000", T),
        ("10000", r"10\,000", T), ("1000", "1,001", F), ("2500", "2,500.00", T), ("70000", "70,000", T),
        ("4096", "4 096", T), ("1,234", "1234", T), ("15,000", "15,500", F),
    ],
    "scientific": [
        ("1500", r"1.5\times10^{3}", T), ("0.00012", r"1.2 \times 10^{-4}", T), ("1.09", r"1.09 \times 10^{0}", T),
        ("3000", "3e3", T), (r"2.5\times 10^{5}", "250000", T), (r"1.2\times10^{-4}", r"1.2\times10^{-3}", F),
        (r"6.02 \times 10^{23}", r"6.02\cdot 10^{23}", T), (r"3 \times 10^8", "300000000", T),
        (r"9.836 \times 10^{-1}", "0.9836", T), ("4.5e-3", "0.0045", T), (r"5\times10^{6}", r"5\times10^{7}", F),
    ],
    "intervals": [
        (r"(-\infty, 3]", r"(-\infty,3]", T), ("[2,5)", "[2, 5)", T), ("[2,5)", "(2,5)", F), ("[2,5)", "[2,5]", F),
        (r"(0,\infty)", "(0, ∞)", T), ("(-1,1]", r"\left(-1, 1\right]", T), ("[1,2]", "[2,1]", F),
        (r"[\frac{1}{2}, 3)", "[0.5, 3)", T), (r"(-\infty, 0)", r"(-\infty, 0]", F), (r"[-3, \infty)", r"[-3,+\infty)", T),
        (r"(-2, \infty)", r"(2, \infty)", F), ("[0,1]", r"\left[ 0, 1 \right]", T), (r"(-\infty,-1)", r"(-\infty,-1)", T),
        (r"(-\infty, 3]", r"x \le 3", T), (r"(2, \infty)", "x > 2", T), ("[-1, 4)", r"-1 \leq x < 4", T),
        (r"(2, \infty)", r"x \geq 2", F),
    ],
    "unions": [
        (r"(-\infty,1)\cup(2,\infty)", r"(2,\infty)\cup(-\infty,1)", T),
        (r"(-\infty,1)\cup(2,\infty)", r"(-\infty,1]\cup(2,\infty)", F),
        (r"[-2,0)\cup(0,2]", "[-2,0) ∪ (0,2]", T), (r"(-\infty, -2) \cup (3, \infty)", r"(-\infty,-2)\cup(3,\infty)", T),
        (r"(-\infty, -2) \cup (3, \infty)", r"(-\infty,-3)\cup(2,\infty)", F), (r"(1,2)\cup(3,4)", "(1,2)", F),
        (r"[0,1] \cup [2,3]", r"[2,3] \cup [0,1]", T), (r"(-\infty,\frac12)\cup(1,\infty)", r"(-\infty,0.5)\cup(1,\infty)", T),
    ],
    "sets": [
        (r"\{1,2,3\}", r"\{3,2,1\}", T), (r"\{1,2\}", r"\{1,3\}", F), ("1,2,3", "3,1,2", T), ("2,-3", "-3, 2", T),
        ("2,-3", "2", F), (r"\{-1,1\}", r"\pm 1", T), (r"2 \pm \sqrt{6}", r"2+\sqrt6, 2-\sqrt6", T), ("1,2", "1,2,3", F),
        (r"\{\frac{1}{2}, 2\}", r"\{2, 0.5\}", T), ("-1, 5", r"x=-1 \text{ or } x=5", T), ("-1, 5", "x = 5, x = -1", T),
        ("3, 4", r"3 \text{ and } 4", T), ("0, 1, -1", "1, -1, 0", T), ("2, 3", "2, 4", F), (r"\{4\}", "4", T),
        (r"\pm 2", "2, -2", T), (r"\pm 2", "2", F), (r"1, \frac{1}{2}", r"\frac12, 1", T),
        (r"\{a, b\}", r"\{b, a\}", T),
    ],
    "tuples": [
        ("(1,2)", "(1, 2)", T), ("(1,2)", "(2,1)", F), ("(3,-4)", "(3,-4)", T), (r"(\frac12, 3)", "(0.5,3)", T),
        ("(1,2,3)", "(1,2,3)", T), ("(1,2,3)", "(1,3,2)", F), (r"(3, \frac{\pi}{2})", r"\left( 3, \frac{\pi}{2} \right)", T),
        ("(1,2)", "1,2", T), ("(1,2)", "2,1", F), ("(-2, 5)", "(-2, -5)", F), (r"(\sqrt{2}, 1)", r"(\sqrt2, 1)", T),
        ("(0, 0)", "(0,0)", T), ("(4, -1)", "(4,-1)", T), ("(1, 2, 3)", "(1, 2)", F), ("(2, 1, 4)", "(2,1,4)", T),
        (r"(6, \frac{3\pi}{4})", r"(6, \frac34 \pi)", T),
    ],
    "matrices": [
        (r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}", r"\begin{bmatrix}1&2\\3&4\end{bmatrix}", T),
        (r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}", r"\begin{pmatrix} 1 & 3 \\ 2 & 4 \end{pmatrix}", F),
        (r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", "(1,2)", T),
        (r"\begin{pmatrix} \frac12 & 0 \\ 0 & 1\end{pmatrix}", r"\begin{pmatrix} 0.5 & 0 \\ 0 & 1\end{pmatrix}", T),
        (r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"\begin{pmatrix} 2 \\ 1 \end{pmatrix}", F),
        (r"\begin{pmatrix} -1 & 0 \\ 0 & 1 \end{pmatrix}", r"\begin{pmatrix} -1 & 0 \\ 0 & -1 \end{pmatrix}", F),
        (r"\begin{pmatrix} 2 \\ -1 \\ 3 \end{pmatrix}", r"\begin{pmatrix}2\\-1\\3\end{pmatrix}", T),
        (r"\begin{pmatrix} \sqrt{2} \\ 1 \end{pmatrix}", r"\begin{pmatrix} 2^{1/2} \\ 1 \end{pmatrix}", T),
        (r"\begin{pmatrix} 1 & 0 \\ 0 & 1 \end{pmatrix}", r"\begin{pmatrix} 1 & 0 & 0 \\ 0 & 1 & 0 \end{pmatrix}", F),
        (r"\begin{pmatrix} 3 & -1 \end{pmatrix}", "(3, -1)", T),
    ],
    "equations": [
        ("x=3", "3", T), ("3", "x=3", T), ("y=2x+3", "y=3+2x", T), ("y = 2x+3", "2x+3", T),
        ("x^2+y^2=25", "x^2+y^2=25", T), ("y=2x+3", "y=2x-3", F), ("2x-y+3=0", "y=2x+3", T), ("k=5", "5", T),
        ("x=3", "x=4", F), (r"a = \frac{6}{7}", r"\frac67", T), ("y = -x + 1", "x + y = 1", T),
        ("x^2 - 4x - 2 = 0", "x^2-4x-2=0", T), ("y=x^2", "y=x^3", F), ("n=-6", "-6", T), ("4", "x = -4", F),
        (r"y = \frac{1}{2}x", "x - 2y = 0", T),
    ],
    "symbolic": [
        ("x^2+2x+1", "(x+1)^2", T), ("(x+1)^2", "x^2+1", F), (r"\frac{x+1}{2}", r"\frac{1}{2}x+\frac12", T),
        ("10-4n", "-4n+10", T), (r"2\sin x\cos x", r"\sin(2x)", T), (r"\frac{k-8}{k+4}", r"\frac{8-k}{-k-4}", T),
        ("3m^4-2m+6", "3m^{4}-2m+6", T), ("e^{2x}", "(e^x)^2", T), (r"\ln 8", r"3\ln 2", T), (r"\log_2 8", "3", T),
        ("x^3", "x^2", F), ("a+b", "b+a", T), ("ab", "ba", T), (r"\frac{1}{x}", "x^{-1}", T), ("-x^2", "(-x)^2", F),
        (r"\binom{5}{2}", "10", T), ("5!", "120", T), ("|-3|", "3", T), (r"0.\overline{3}", r"\frac13", T),
        ("p^{2}+14 p+49", "(p+7)^2", T), (r"-36 x+9 x^{2}", "9x(x-4)", T), (r"\frac{4x}{(x-3)(x+2)}", r"\frac{4x}{x^2-x-6}", T),
        ("2x+1", "2x-1", F), (r"\sin^2 x + \cos^2 x", "1", T), (r"\tan x", r"\frac{\sin x}{\cos x}", T),
        ("x(x+1)", "x^2+x", T), ("(a-b)(a+b)", "a^2-b^2", T), ("(a-b)^2", "a^2-b^2", F),
        (r"\frac{u^{2}}{12 v^{5}}", r"\frac{u^2 v^{-5}}{12}", T), ("4 x^{2} y^{4} z^{2}", "(2xy^2z)^2", T),
        (r"\sqrt{x^2+1}", "x+1", F), ("2^{x+1}", r"2\cdot 2^x", T), (r"\cos(\pi)", "-1", T), (r"\frac{n(n+1)}{2}", r"\frac{n^2+n}{2}", T),
    ],
    "choices": [
        ("B", "B", T), ("B", "(B)", T), ("B", r"\text{(B)}", T), ("B", r"\textbf{(B) }12", T), ("C", "B", F),
        ("(A)", "A", T), ("D", r"\text{D}", T), ("E", "(C)", F), ("A", r"\mathrm{(A)}", T), ("C", "(C) 3", T),
    ],
    "negatives": [
        ("-5", "−5", T), ("-5", "5", F), (r"-\frac{1}{2}", "−0.5", T), ("-3", "- 3", T), ("-2", "-(2)", T),
        ("-7", "7", F), ("-12", "–12", T), (r"-\sqrt{3}", r"−\sqrt{3}", T), ("-1", "--1", F), ("-8", "(-2)^3", T),
        ("8", "(-2)^3", F), ("-0.5", "-1/2", T),
    ],
    "complex": [
        (r"\frac{48 i-56}{85}", r"-\frac{56}{85}+\frac{48}{85}i", T), ("3+4i", "3-4i", F), ("2i", "2i", T),
        ("1+i", "i+1", T), (r"\sqrt{2}i", r"i\sqrt{2}", T), ("-i", "i", F),
    ],
}

# Added for issue 11 (items 4 and 6): the categories where the verifier was weak, written before
# the fixes, with their tricky negatives. Kept apart from PAIRS so that the rows above keep their
# response styles.
ADDED: dict[str, list[tuple[str, str, bool]]] = {
    "thousands": [
        # separators in the answer, the gold or both, in every LaTeX spelling
        ("1048576", r"1,\!048,\!576", T), (r"1,\!048,\!576", "1048576", T), (r"1,\!048,\!576", "2^{20}", T),
        ("2^{20}", r"1,\!048,\!576", T), ("12{,}500", "12500", T), ("12500", "12{,}500", T),
        ("3,200,000", "3200000", T), ("3200000", "3,200,000", T), ("3,200,000", r"3.2 \times 10^6", T),
        ("3,628,800", "10!", T), ("3{,}628{,}800", "10!", T), ("10!", "3,628,800", T), ("3,200", "3200", T),
        ("5,040", r"7 \cdot 6 \cdot 5 \cdot 4 \cdot 3 \cdot 2 \cdot 1", T), ("40320", "8! = 40,320", T),
        ("1,234,567", "1234567", T), (r"1,\!000", "1000", T), ("1,000", "10^3", T), ("65,536", "4^8", T),
        ("362,880", "9!", T), (r"\frac{10!}{2}", "1,814,400", T), ("1,000, 2,000", "1000, 2000", T),
        ("1000, 2000", r"2,000 \text{ and } 1,000", T), ("12,500", r"\$12{,}500", T), ("12500", r"12,500 \text{ dollars}", T),
        ("1,048,576", r"1\,048\,576", T), ("1,048,576", "1{,}048{,}576", T), ("-3,200", "-3200", T),
        ("2,016", "2016", T), (r"\binom{20}{10}", "184,756", T), ("184756", r"\num{184,756}", T),
        ("2^{16}", "65{,}536", T), ("1,000,000", "1000^2", T), ("(1000, 2000)", "(1,000, 2,000)", T), ("(1, 100)", "(1,100)", T),
        # negatives: lists and pairs are not numbers, and a wrong value stays wrong
        ("12", "1,2", F), ("1,2", "12", F), (r"\{1,2\}", "12", F), ("(1,2)", "12", F), ("15", "1,5", F),
        ("1,234,567", "1234568", F), ("3,200", "320", F), ("3,200", "32,000", F), ("[1,100]", "[1100]", F),
        ("(1,234)", "1234", F), ("1,048,576", "2^{21}", F), ("3,628,800", "9!", F), (r"1,\!024", "2^{11}", F),
        ("12{,}500", "1250", F), ("40320", "8! = 40,321", F), ("1000, 2000", "1,000,2,000", F),
    ],
    "rounding": [
        # a decimal approximation against an exact fraction or a multiple of pi, and the reverse
        (r"\frac{1}{3}", "0.333", T), (r"\frac{2}{3}", "0.667", T), (r"\frac{2}{3}", "0.6667", T), (r"\pi", "3.14", T),
        (r"\pi", "3.1416", T), (r"\pi", "3.14159", T), (r"\pi", "3.1415926536", T), (r"2\pi", "6.28", T),
        (r"2\pi", "6.283", T), (r"\frac{\pi}{4}", "0.785", T), (r"\frac{\pi}{4}", "0.7854", T), ("3.14", r"\pi", T),
        ("0.333", r"\frac{1}{3}", T), ("6.28", r"2\pi", T), ("0.785", r"\frac{\pi}{4}", T), (r"\frac{1}{7}", "0.142857", T),
        (r"\frac{1}{7}", "0.1429", T), (r"100\pi", "314.16", T), (r"\sqrt{2}", "1.41421356237", T),
        (r"\pi", "3.14159265358979323846", T), (r"\frac{1}{3}", "0.33333333333333333333", T),
        (r"\frac{22}{7}", "3.143", T), ("e", "2.71828", T), (r"16\pi", "50.27", T), (r"-\frac{2}{3}", "-0.667", T),
        (r"\frac{1000\pi}{3}", r"1.047 \times 10^{3}", T), (r"\frac{1}{3}", r"3.33 \times 10^{-1}", T),
        (r"\pi", r"3.14\ldots", T), (r"\pi", r"3.14159\ldots", T), (r"\frac{2}{3}", r"0.666\ldots", T),
        (r"\frac{1}{3}", r"33.3\%", T), ("0.5", r"\sin\frac{\pi}{6}", T), (r"\frac{5}{6}", "0.833", T),
        # wrong digits, truncation without an ellipsis, too few digits, too many wrong ones
        (r"\pi", "3.1415926535", F), ("3.1415926535", r"\pi", F), (r"\pi", "3.1415", F), (r"\pi", "3.141", F),
        (r"\frac{2}{3}", "0.666", F), (r"\frac{2}{3}", "0.6666", F), (r"\frac{2}{3}", "0.67", F), (r"\frac{1}{3}", "0.33", F),
        (r"2\pi", "6.282", F), (r"\frac{\pi}{4}", "0.7853", F), ("0.786", r"\frac{\pi}{4}", F), (r"\frac{1}{7}", "0.142858", F),
        (r"100\pi", "314.15", F), (r"100\pi", "314", F), (r"\sqrt{2}", "1.41421356238", F),
        (r"\sqrt{2}", "1.4142135623730951", F), (r"\pi", "3.14159265358979323847", F),
        (r"\frac{1}{3}", "0.33333333333333333334", F), (r"\pi", r"\frac{22}{7}", F), (r"\pi", r"\frac{355}{113}", F),
        ("e", "2.7182", F), (r"16\pi", "50.26", F), (r"-\frac{2}{3}", "-0.666", F), (r"\frac{1}{3}", r"3.34 \times 10^{-1}", F),
        (r"\pi", r"3.15\ldots", F), ("0.3", r"\frac{1}{3}", F),
    ],
    "adversarial": [
        # huge exponents and magnitudes, compared exactly
        ("2^{10000}", "2^{10000}+1", F), ("2^{10000}+1", "2^{10000}", F), ("2^{10000}", "4^{5000}", T),
        ("2^{100000}", "4^{50000}", T), ("2^{100000}", "2^{100000}+1", F), ("2^{1000000}", "4^{500000}", T),
        ("2^{1000000}", r"2\cdot 2^{999999}", T), ("2^{1000000}", "2^{1000000}-1", F), ("10^{100}", "10^{100}+1", F),
        ("10^{400}", "1e400", T), ("9^{9^9}", r"3^{2\cdot 9^9}", T), ("9^{9^9}", "9^{9^9}+1", F),
        ("2^{2^{100}}", "4^{2^{99}}", T), ("1000!", "1000!+1", F), ("1001!", r"1001 \cdot 1000!", T),
        (r"\frac{2^{100000}}{2^{99999}}", "2", T), ("2^{-100000}", "0", F), ("2^{64}", "18446744073709551616", T),
        ("2^{64}", "18446744073709551617", F), ("3^{1000}", "3^{1000}-1", F), ("x^{10000}", "x^{10000}+1", F),
        (r"\binom{100}{50}", r"\binom{100}{50}+1", F), ("10^{20}", r"\sqrt{10^{40}+1}", F), (r"\sqrt{10^{40}}", "10^{20}", T),
        ("e^{100}", "e^{100}+1", F), (r"e^{\pi\sqrt{163}}", "640320^3+744", F), (r"\pi", r"\pi + 10^{-20}", F),
        ("0", r"\pi \cdot 10^{-100}", F), ("1", "1 + 10^{-30}", F), ("2^{10000}", r"\sqrt{2^{20000}+1}", F),
        (r"\sqrt{2}+\sqrt{3}", r"\sqrt{5+2\sqrt{6}}+10^{-15}", F), ("x", "x+10^{-20}", F),
        # zero (or equal) only symbolically
        ("0", r"\sin^2 x + \cos^2 x - 1", T), (r"\sin^2 x + \cos^2 x - 1", "0", T), ("0", r"\sin^2(x) + \cos^2(x) - 1", T),
        ("0", r"\sqrt{2}\sqrt{3}-\sqrt{6}", T), ("0", r"\ln(e^x) - x", T), ("0", r"e^{i\pi}+1", T),
        ("0", r"\cos(\pi/5)-\frac{1+\sqrt{5}}{4}", T), ("0", r"\tan(\pi/4) - 1", T), ("0", "(x+1)^2 - x^2 - 2x - 1", T),
        ("1", "(x+1)^2 - x^2 - 2x", T), ("2", "(x+1)^2 - x^2 - 2x", F), (r"\sqrt{2}+\sqrt{3}", r"\sqrt{5+2\sqrt{6}}", T),
        ("1", r"\cos^2(10^{-10}) + \sin^2(10^{-10})", T), ("0", r"\log_2 8 - 3", T), ("1", r"\sin^2 x + \cos^2 x - 1", F),
        (r"(10^{20}+\sqrt{2}) - 10^{20}", r"\sqrt{2}", T), ("2^{20000}", "4^{10000}", T), ("2^{20000}", "2^{20000}", T),
    ],
    "sets": [
        (r"\{1,2,3\}", r"\{3,1,2\}", T), ("1,2,3", r"\{3,1,2\}", T), (r"\{1,2,3\}", "3, 2, 1", T), (r"\{1,2,2\}", r"\{2,1\}", T),
        (r"\{2, 3\}", r"x \in \{3, 2\}", T), (r"\{2, 3\}", r"\{x \mid x = 3 \text{ or } x=2\}", T), (r"\{-1, 1\}", r"x = \pm 1", T),
        (r"\{\frac12, \frac13\}", r"\{\frac{1}{3}, 0.5\}", T), (r"\{1,2\}", r"\left\{ 2, 1 \right\}", T),
        (r"\{(1,2), (3,4)\}", r"\{(3,4), (1,2)\}", T), ("(1,2), (3,4)", "(3,4), (1,2)", T), (r"\{1,2\}", r"1 \text{ and } 2", T),
        (r"\{1,2\}", r"\{1,2,3\}", F), (r"\{1, 2\}", r"\{12\}", F), (r"\{1, 2\}", "(1, 2)", F), ("(1,2), (3,4)", "(2,1), (3,4)", F),
        (r"\{2, 3\}", r"\{x \mid x = 3 \text{ or } x=4\}", F), (r"\{0, 1\}", r"\{1\}", F), ("1, 2", "1.2", F),
        (r"\{1,2\}", r"\lbrace 2, 1 \rbrace", T), (r"\{1,2,3\}", r"\{1, 2\} \cup \{3\}", T), (r"\{1,2\}", "{2, 1}", T),
        ("(1,2)", r"\langle 1, 2 \rangle", T), (r"\{1,2\}", r"\{1\} \cup \{3\}", F), ("(1,2)", r"\langle 2, 1 \rangle", F),
    ],
    "assignments": [
        ("(2,3)", r"x=2 \text{ and } y=3", T), ("(2,3)", "x=2, y=3", T), ("(2,3)", "y=3, x=2", T),
        ("(2,3)", r"y=3 \text{ and } x=2", T), ("(2,3)", "(x,y)=(2,3)", T), ("(x,y)=(2,3)", "x=2, y=3", T),
        ("x=2, y=3", "(2,3)", T), (r"x=2 \text{ and } y=3", "(2, 3)", T), ("x=2, y=3", "y=3, x=2", T),
        ("2, 3", r"x=2 \text{ or } x=3", T), ("2, 3", "x = 2, 3", T), ("(1,2,3)", "z=3, y=2, x=1", T),
        ("(1,2,3)", "a=1, b=2, c=3", T), ("(2,5)", "n=5, m=2", T), ("1, 2", "x_1 = 1, x_2 = 2", T),
        (r"2 \text{ and } 3", "3,2", T), ("3, 4", r"4 \text{ and } 3", T),
        ("(2,3)", "x=3, y=2", F), ("(2,3)", "y=2, x=3", F), ("(2,3)", "(x, y) = (3, 2)", F), ("x=2, y=3", "x=3, y=2", F),
        ("3, 4", r"3 \text{ and } 5", F), ("2", "2, 3", F), ("(1,2,3)", "x=1, y=3, z=2", F), ("(2,3)", r"x=2 \text{ or } x=3", F),
    ],
    "units-text": [
        ("5", r"5\,\text{cm}", T), ("5", r"5~\text{cm}", T), ("5", r"5 \mathrm{cm}", T), ("5", r"5\ \mathrm{m/s}", T),
        ("5", r"5 \, \mathrm{m}^{3}", T), ("5", r"5 \text{ m}", T), ("5", "5 cm", T), ("5", r"\text{5 cm}", T),
        ("5", r"5 \text{ square centimeters}", T), (r"5\text{ cm}", "5", T), (r"2\pi", r"2\pi\text{ cm}", T),
        (r"\frac{1}{2}", r"\frac{1}{2}\text{ hour}", T), ("12", r"12 \text{ ft}^2", T), ("12", r"12 \textrm{ ft}", T),
        ("5", r"5 \frac{\text{m}}{\text{s}}", T), ("5", r"5 \text{ m s}^{-1}", T), ("5", r"\SI{5}{\centi\meter}", T),
        ("3200", r"\num{3200}", T), ("20", r"20 \text{ USD}", T), ("90", r"90^{\circ}", T), ("7", r"7\text{ apples}", T),
        ("5", r"6\text{ cm}", F), ("8", r"7\text{ apples}", F), (r"\text{no}", "yes", F), ("5", r"\SI{6}{\meter}", F),
        ("25", r"5\text{ cm}^2", F), ("12", r"12.5 \text{ ft}", F),
    ],
    "function-powers": [
        (r"\sin^2 x", r"\sin(x)^2", T), (r"\cos(2x)^2", r"\cos^2(2x)", T), (r"\sin(x)^{2} + \cos(x)^{2}", "1", T),
        (r"\ln(x)^2", r"(\ln x)^2", T), (r"\sin x^2", r"\sin(x^2)", T), (r"\sin(2x)", r"2\sin x \cos x", T),
        (r"\sin(x^2)", r"\sin(x)^2", F), (r"\sin(x)^2", r"\sin(x^2)", F), (r"\cos(x)^2", r"\cos(x^2)", F),
        (r"\tan(x)^2", r"\tan(x^2)", F),
    ],
}



def _digits(n: int) -> str:
    """The decimal digits of a positive integer of any size (str() refuses more than 4300)."""
    chunks = []
    while n:
        n, chunk = divmod(n, 10**1000)
        chunks.append(chunk)
    return str(chunks[-1]) + "".join(f"{chunk:01000d}" for chunk in reversed(chunks[:-1]))


def _expanded(n: int) -> str:
    """(x+1)^n written out term by term."""
    return "+".join(f"{math.comb(n, k)}x^{{{k}}}" for k in range(n + 1))


def _vanishing_on_old_points() -> str:
    """(x - p1)...(x - p5) for the five points every symbolic comparison used before issue 23,
    each p the exact binary value of the float, so that the product is exactly 0 there."""
    points = [Fraction(0.35 + (zlib.crc32(f"{i}:x".encode()) % 10007) / 10007 * 1.9) for i in range(5)]
    return "".join(rf"(x-\frac{{{p.numerator}}}{{{p.denominator}}})" for p in points)


# Added for issue 23 (item 4): percents against percents, answers with \pm, times of day, long
# answers, and answers that equal the gold only on part of the line (the old symbolic check
# compared at five fixed points in [0.35, 2.25]). Written with the fixes, so a training-set
# figure for the new code; the old code's score on them is the fair "before".
ADDED_23: dict[str, list[tuple[str, str, bool]]] = {
    "percent-pairs": [
        (r"20\%", r"0.2\%", F), (r"0.05\%", r"5\%", F), (r"20\%", r"20.0\%", T), (r"12.5\%", r"\frac{25}{2}\%", T),
        (r"50\%", r"5\%", F), (r"20\%", "0.2", T), (r"20\%", "20 percent", T), ("0.2", r"20\%", T),
        (r"33\frac{1}{3}\%", r"\frac{100}{3}\%", T), (r"75\%", r"0.75\%", F), (r"1\%", "0.01", T), (r"1\%", r"100\%", F),
    ],
    "plus-minus": [
        (r"x = 2 \pm \sqrt{3}", r"2+\sqrt3, 2-\sqrt3", T), (r"\frac{1\pm\sqrt5}{2}", r"\frac{1+\sqrt5}{2}, \frac{1-\sqrt5}{2}", T),
        (r"1 \pm \sqrt2 + 1", r"2+\sqrt2, 2-\sqrt2", T), (r"\pm 1, \pm 2", "1, -1, 2, -2", T),
        (r"\{0, \pm 1\}", r"\{-1, 0, 1\}", T), (r"(\pm 1, 0)", "(1, 0), (-1, 0)", T), (r"x_{1,2} = 3 \pm i", "3+i, 3-i", T),
        (r"2 \pm \sqrt{3}", r"2 + \sqrt 3", F), (r"\pm\sqrt{2}", r"\sqrt{2}", F), (r"\pm 1, \pm 2", "1, -1, 2", F),
        (r"a \pm b \mp c", "a + b + c, a - b - c", F),
        (r"\frac{3 \pm \sqrt{5}}{2}", r"\frac{3 + \sqrt{5}}{2}, \frac{3 - \sqrt{6}}{2}", F),
    ],
    "times": [
        ("3:30 PM", "15:30", T), ("15:30", r"3{:}30 \text{ PM}", T), (r"3{:}30", "3:30", T), (r"3:30 \text{ p.m.}", "15:30", T),
        ("3 PM", "15:00", T), ("12:15 AM", "00:15", T), ("9:05:30 am", "09:05:30", T), ("11:45 AM", "11:45", T),
        ("7:00 PM", "19:00", T), ("3:30 PM", "3:30 AM", F), ("3:30 PM", "15:45", F), ("3:30 PM", "03:30", F),
        ("15:30", "3:30", F), ("7:00 PM", "7:00 AM", F),
    ],
    "long": [
        ("601", "+".join(["1"] * 601), T), ("601", "+".join(["1"] * 600), F), ("(x+1)^{60}", _expanded(60), T),
        ("(x+1)^{60}", _expanded(60) + "+1", F), ("2^{16000}", _digits(2**16000), T), ("2^{16000}", _digits(2**16000 + 1), F),
        ("x", "+".join([r"\frac{x}{200}"] * 200), T), (r"\frac{1}{2}", "+".join([r"\frac{1}{500}"] * 250), T),
        (r"\frac{1}{2}", "+".join([r"\frac{1}{500}"] * 249), F),
    ],
    "piecewise": [
        ("x", "|x|", F), ("x", r"\sqrt{x^2}", F), ("x", r"\max(x, 0)", F), ("0", r"\min(x, 0)", F),
        ("x", r"\min(x, 10^{6})", F), ("1", r"\operatorname{sgn}(x)", F), ("xy", "|x| y", F),
        (r"\lfloor x \rfloor", r"\lfloor x \rfloor + \lfloor x/10 \rfloor", F), ("x", r"|x| + 0 \cdot 0^{x}", F),
        ("x^2", "x^2 + " + _vanishing_on_old_points(), F),
        (r"\sqrt{x^2}", "|x|", T), (r"\max(x, y)", r"\frac{x+y+|x-y|}{2}", T), (r"\frac{x}{|x|}", r"\operatorname{sgn}(x)", T),
        (r"\ln(xy)", r"\ln x + \ln y", T), (r"\sqrt[3]{x}", "x^{1/3}", T), (r"\min(x, y)", r"\frac{x+y-|x-y|}{2}", T),
        ("|xy|", "|x||y|", T),
    ],
}

# Wrappers: how a model states its final answer. {a} is the answer; the reasoning includes
# numbers that are not the answer, so that a verifier reading "the last number" would fail.
STYLES = [
    "Let me work through this. First, 3 + 4 = 7 and then 12 * 2 = 24.\nChecking again, nothing is off.\n"
    "Therefore the final answer is $\\boxed{{{a}}}$.",
    "<think>\nOkay, so the problem asks for a value. Try 10: no. Try 17: no.\nWait, let me reconsider.\n"
    "</think>\nAfter simplifying, we obtain\n\\[\n\\boxed{{{a}}}\n\\]",
    "We compute step by step: 5 - 2 = 3, and 100 / 4 = 25.\nThe answer is: {a}",
    "Solution: the intermediate result is 42, but we must still divide.\n"
    "Final Answer: The final answer is ${a}$. I hope it is correct.",
    "Intermediate: \\boxed{{99}} is not yet the answer, since we forgot a term.\n"
    "Adding it back, the result is \\boxed{{{a}}}.",
    "Step 1: 8 * 7 = 56.\nStep 2: combine everything.\n**Final Answer**\n\\[\\boxed{{{a}}}\\]",
]

# Extraction cases that are not about equivalence: (gold, full response, expected reward).
EXTRACTION: list[tuple[str, str, int]] = [
    ("18", "Janet sells 16 - 3 - 4 = 9 eggs and makes 9 * 2 = 18 dollars.\n#### 18", 1),
    ("18", "Janet sells 16 - 3 - 4 = 9 eggs and makes 9 * 2 = 18 dollars.\nThe answer is: 18", 1),
    ("18", "Janet sells 16 - 3 - 4 = 9 eggs and makes 9 * 2 = 18 dollars, I think. Or maybe 20.", -1),
    ("5", "The sum is 2 + 3 = 5, though I am not sure how to finish this problem.", -1),
    ("5", "<think>\n2 + 3 = 5, so the answer is \\boxed{5}. Hmm, but let me double check by", -1),
    ("5", "<think>\n2 + 3 = 5.\n</think>\n\nThe answer is \\boxed{5}.", 1),
    ("5", "<think>\nmaybe \\boxed{4}\n</think>\n\nSo we get $\\boxed{5}$.", 1),
    ("5", "We conclude $\\boxed{}$ is empty here.", -1),
    ("\\frac{1}{2}", "So the probability is \\boxed{\\frac{1}{2", -1),
    ("\\frac{\\sqrt{3}}{2}", "Hence $\\sin 60^\\circ = \\boxed{\\frac{\\sqrt{3}}{2}}$.", 1),
    ("\\frac{\\sqrt{3}}{2}", "Hence $\\sin 60^\\circ = \\boxed{\\dfrac{\\sqrt{3}}{2}}$.", 1),
    ("\\frac{\\sqrt{3}}{2}", "Hence $\\sin 60^\\circ = \\boxed{\\frac{\\sqrt{2}}{2}}$.", 0),
    ("204", "Thus the walk takes $\\fbox{204}$ minutes.", 1),
    ("2, 3", "The roots are $\\boxed{2}$ and $\\boxed{3}$.", 1),
    ("2, 3", "The roots are $\\boxed{2}$ and $\\boxed{4}$.", 0),
    ("3", "First guess: \\boxed{2}. That was wrong; redoing the algebra gives 3.\n\nThe answer is $\\boxed{3}$.", 1),
    ("3", "First guess: \\boxed{3}. That was wrong; redoing the algebra gives 4.\n\nThe answer is $\\boxed{4}$.", 0),
    ("7", "The answer is \\boxed 7.", 1),
    ("7", "**Answer:** 7", 1),
    ("7", "Answer: $7$", 1),
    ("12", "The final answer is 12.", 1),
    ("12", "I computed 12 in the middle, but then I ran out of time.", -1),
    ("\\frac{1}{2}", "The answer is $\\frac{1}{2}$.", 1),
    ("(1,2)", "The answer is \\boxed{\\left(1, 2\\right)}.", 1),
    ("B", "Comparing the options, only option B works. The answer is (B).", 1),
    ("B", "Comparing the options, only option B works, but I cannot decide.", -1),
    ("x^2", "So $f(x) = \\boxed{\\displaystyle x^{2}}$.", 1),
    ("10", "So the result is $$\\boxed{10}$$", 1),
    ("10", "nothing here but {braces} and {more {nested} braces} 10", -1),
    ("6", "The answer is $\\boxed{\\boxed{6}}$.", 1),
    # An escaped brace is not a group's brace: \left\{ ... \right. must not swallow the box.
    ("f(x)=\\left\\{\\begin{array}{ll}1 & x<0 \\\\ 2 & x \\geq 0\\end{array}\\right.",
     "So $\\boxed{f(x)=\\left\\{\\begin{array}{ll}1 & x<0 \\\\ 2 & x \\geq 0\\end{array}\\right.}$.", 1),
]


def response_for(index: int, answer: str) -> str:
    return STYLES[index % len(STYLES)].format(a=answer)


def build() -> list[dict]:
    rows = []
    index = 0
    for category, pairs in [*PAIRS.items(), *ADDED.items(), *ADDED_23.items()]:
        for gold, answer, equal in pairs:
            # Multiple-choice and minus-sign cases go through the box only: "The answer is: -5."
            # is fine, but a wrapper must never change the answer text itself.
            rows.append({
                "category": category, "gold": gold, "response": response_for(index, answer),
                "answer_as_written": answer, "expected_correct": equal, "expected_reward": 1 if equal else 0,
            })
            index += 1
    for gold, response, reward in EXTRACTION:
        rows.append({
            "category": "extraction", "gold": gold, "response": response, "answer_as_written": None,
            "expected_correct": reward == 1, "expected_reward": reward,
        })
    solutions = [json.loads(line) for line in (HERE / "math_solutions_sample.jsonl").open(encoding="utf-8")]
    for i, row in enumerate(solutions):
        rows.append({
            "category": "math-solutions", "gold": row["answer"], "response": row["solution"],
            "answer_as_written": None, "expected_correct": True, "expected_reward": 1,
        })
        other = next(r for r in solutions[i + 1:] + solutions[:i] if r["answer"] != row["answer"])
        rows.append({
            "category": "math-solutions", "gold": other["answer"], "response": row["solution"],
            "answer_as_written": None, "expected_correct": False, "expected_reward": 0,
        })
    return rows


def main() -> None:
    rows = build()
    with (HERE / "verifier_labelled.jsonl").open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} rows")


if __name__ == "__main__":
    main()
