"""Write the committed test inputs: tiny genome, good files and the bad-input corpus.

Run once from the repository root (``python tests/data/make_test_data.py``); the outputs are
committed, so tests never regenerate them. Everything is seeded: rerunning gives the same bytes
(gzip headers carry mtime 0).
"""

from __future__ import annotations

import gzip
import io
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
GOOD = HERE / "good"
BAD = HERE / "bad"
GENOME = "tests/data/tiny_genome.fa"


def dna(rng: random.Random, n: int, alphabet: str = "ACGT") -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def gz(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as fh:
        fh.write(data)
    return buf.getvalue()


def write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def wrap(seq: str, width: int) -> list[str]:
    return [seq[i : i + width] for i in range(0, len(seq), width)]


def tiny_genome(rng: random.Random) -> None:
    """chr1 (3,000 bp) and chr2 (2,000 bp), 60 bp lines, with soft-masked runs."""
    out = []
    for name, length in (("chr1", 3000), ("chr2", 2000)):
        seq = list(dna(rng, length))
        for start in (rng.randrange(0, length - 200) for _ in range(4)):
            seq[start : start + 120] = [b.lower() for b in seq[start : start + 120]]
        out.append(f">{name}\n" + "\n".join(wrap("".join(seq), 60)) + "\n")
    write(HERE / "tiny_genome.fa", "".join(out))


def good_files(rng: random.Random) -> None:
    recs = [(f"s{i}", dna(rng, 50)) for i in range(1, 7)]
    recs[2] = ("s3", recs[2][1][:20] + recs[2][1][20:35].lower() + recs[2][1][35:])
    write(GOOD / "plain.fa", "".join(f">{i} sample {n}\n{s}\n" for n, (i, s) in enumerate(recs)))

    text = ""
    for i in range(1, 9):
        text += f">w{i}\r\n" + "\r\n".join(wrap(dna(rng, 95, "ACGTN" if i == 4 else "ACGT"), 30))
        text += "\r\n\r\n"
    write(GOOD / "wrapped_crlf.fa.gz", gz(text.encode()))
    write(GOOD / "gzip_without_suffix.fa", gz(b">g1\nACGTACGT\n>g2\nTTGGCCAA\n"))

    splits = ["training"] * 4 + ["testing"] * 2 + ["validation"] * 2
    write(
        GOOD / "deepbio.fa",
        "".join(f">d{i}|{i % 2}|{sp}\n{dna(rng, 40)}\n" for i, sp in enumerate(splits)),
    )
    rows = ["id\tsequence\tlabel\tsplit"]
    for i, sp in enumerate(["train", "train", "train", "valid", "test", "test"]):
        rows.append(f"r{i}\t{dna(rng, 30)}\t{i % 2}\t{sp}")
    write(GOOD / "table.tsv", "\n".join(rows) + "\n")
    rows = ["sequence,y1,y2"]
    for i in range(5):
        rows.append(f"{dna(rng, 25)},{i * 0.5},{'NA' if i == 3 else -i}")
    write(GOOD / "table.csv", "\n".join(rows) + "\n")

    bed = ["track name=good", "# a comment"]
    for i, (chrom, start) in enumerate(
        [("chr1", 100), ("chr1", 900), ("chr2", 50), ("chr2", 1500)]
    ):
        bed.append(f"{chrom}\t{start}\t{start + 200}\tpeak{i}\t{500 + i}\t{'+-.'[i % 3]}")
    write(GOOD / "peaks.bed", "\n".join(bed) + "\n")
    np_lines = []
    for chrom, start, summit in [("chr1", 200, 100), ("chr1", 2500, 37), ("chr2", 10, -1)]:
        np_lines.append(f"{chrom}\t{start}\t{start + 300}\t.\t1000\t.\t52.5\t-1\t4.67\t{summit}")
    write(GOOD / "peaks.narrowPeak", "\n".join(np_lines) + "\n")
    write(GOOD / "bed3.bed.gz", gz(b"chr1\t0\t10\nchr2\t5\t1999\n"))


# (file, content, args, expected substring of the one-line problem)
def bad_files(rng: random.Random) -> list[tuple[str, bytes, str, str]]:
    twohundred = "".join(f">t{i}\n{dna(rng, 100)}\n" for i in range(300)).encode()
    compressed = gz(twohundred)
    garbage = bytes(rng.randrange(256) for _ in range(600))
    fasta = b">s1\nACGTACGT\n>s2\nACGTACGA\n"
    rows: list[tuple[str, bytes | str, str, str]] = [
        ("empty.fa", b"", "", "file is empty"),
        ("whitespace_only.fa", " \n\n\t\n  \n", "", "file is empty"),
        (
            "header_no_sequence.fa",
            ">s1\nACGT\n>s2\n>s3\nACGT\n",
            "",
            'record 2 ("s2"), line 3: header has no sequence lines',
        ),
        (
            "text_before_header.fa",
            "my sequences\n>s1\nACGT\n",
            "",
            "line 1: text before the first '>' header",
        ),
        (
            "only_sequence_lines.fa",
            "ACGTACGT\nACGTTT\n",
            "",
            "line 1: text before the first '>' header",
        ),
        (
            "bad_letter_x.fa",
            ">s1\nACGT\n>s2\nACXT\n",
            "",
            "record 2 (\"s2\"), line 4: unexpected character 'X'; allowed: A C G T N",
        ),
        ("bad_digit.fa", ">s1\nACGT\nAC1GT\n", "", "line 3: unexpected character '1'"),
        ("bad_star.fa", ">s1\nACGT*\n", "", "line 2: unexpected character '*'"),
        ("bad_lowercase.fa", ">s1\nacgtacgt\nacgxa\n", "", "line 3: unexpected character 'x'"),
        ("bad_space_inside.fa", ">s1\nACGT ACGT\n", "", "line 2: unexpected character ' '"),
        (
            "iupac_without_flag.fa",
            ">s1\nACGRT\n",
            "",
            "unexpected character 'R'; allowed: A C G T N (use --iupac-to-n",
        ),
        (
            "iupac_flag_still_bad.fa",
            ">s1\nACRYSX\n",
            "--iupac-to-n",
            "line 2: unexpected character 'X'; allowed: A C G T N and the IUPAC codes",
        ),
        (
            "duplicate_ids.fa",
            ">s1\nACGT\n>s2\nAAAA\n>s1\nCCCC\n",
            "",
            'line 5: duplicate id "s1" (first seen at line 1)',
        ),
        ("empty_id.fa", ">s1\nACGT\n> no id\nACGT\n", "", "line 3: empty id in header"),
        (
            "crlf_bad_letter.fa",
            ">s1\r\nACGT\r\nACGT\r\n>s2\r\nACZT\r\n",
            "",
            "record 2 (\"s2\"), line 5: unexpected character 'Z'",
        ),
        (
            "ragged.fa",
            ">s1\nACGTACGT\n>s2\nACGTAC\n",
            "--fixed-length",
            'record 2 ("s2"), line 3: ragged lengths: 6 bp, but record 1 ("s1") has 8 bp',
        ),
        (
            "deepbio_label_not_int.fa",
            ">a|1|training\nACGT\n>b|pos|training\nACGT\n",
            "",
            "line 3: label 'pos' is not an integer",
        ),
        (
            "deepbio_unknown_split.fa",
            ">a|1|training\nACGT\n>b|0|train_set\nACGT\n",
            "",
            "line 3: unknown split 'train_set'; allowed: training, testing, validation",
        ),
        (
            "deepbio_two_fields.fa",
            ">a|1|training\nACGT\n>b|0\nACGT\n",
            "",
            "line 3: header 'b|0' has 2 '|'-separated fields, expected 3",
        ),
        (
            "deepbio_duplicate_id.fa",
            ">a|1|training\nACGT\n>a|0|testing\nACGT\n",
            "",
            'line 3: duplicate id "a" (first seen at line 1)',
        ),
        (
            "table_missing_sequence.tsv",
            "id\tdna\tlabel\na\tACGT\t1\n",
            "",
            "line 1: no 'sequence' column",
        ),
        (
            "table_nonnumeric_target.tsv",
            "id\tsequence\tlabel\na\tACGT\t1\nb\tACGA\tyes\n",
            "",
            "line 3: column 'label': value 'yes' is not a number",
        ),
        (
            "table_empty_target.tsv",
            "id\tsequence\tlabel\na\tACGT\t\n",
            "",
            "line 2: column 'label': empty value",
        ),
        (
            "table_bad_split.tsv",
            "id\tsequence\tlabel\tsplit\na\tACGT\t1\tholdout\n",
            "",
            "line 2: column 'split': unknown split 'holdout'",
        ),
        (
            "table_duplicate_id.tsv",
            "id\tsequence\tlabel\na\tACGT\t1\nb\tACGA\t0\na\tAAAA\t1\n",
            "",
            'line 4: duplicate id "a" (first seen at line 2)',
        ),
        (
            "table_bad_letter.csv",
            "sequence,label\nACGT,1\nACGU,0\n",
            "",
            "line 3: column 'sequence': unexpected character 'U'",
        ),
        (
            "table_ragged_row.tsv",
            "id\tsequence\tlabel\na\tACGT\n",
            "",
            "line 2: row has 2 fields, the header has 3",
        ),
        ("table_header_only.tsv", "id\tsequence\tlabel\n", "", "no data rows after the header"),
        (
            "bed_end_before_start.bed",
            "chr1\t100\t200\nchr1\t300\t250\n",
            "",
            "line 2: end < start (start 300, end 250)",
        ),
        (
            "bed_empty_interval.bed",
            "chr1\t100\t200\nchr1\t300\t300\n",
            "",
            "line 2: empty interval",
        ),
        ("bed_negative_start.bed", "chr1\t-10\t200\n", "", "line 1: negative start -10"),
        (
            "bed_noninteger.bed",
            "chr1\t100\t200\nchr1\t100\t150.5\n",
            "",
            "line 2: end '150.5' is not an integer",
        ),
        (
            "bed_noninteger_first_line.bed",
            "chr1\tabc\t200\n",
            "",
            "line 1: start 'abc' is not an integer",
        ),
        (
            "bed_too_few_columns.bed",
            "chr1\t100\t200\nchr1\t100\n",
            "",
            "line 2: too few columns: 2",
        ),
        ("bed_bad_strand.bed", "chr1\t100\t200\tp\t0\t*\n", "", "line 1: bad strand '*'"),
        (
            "narrowpeak_summit_outside.narrowPeak",
            "chr1\t100\t300\t.\t0\t.\t5.0\t-1\t-1\t50\nchr1\t500\t700\t.\t0\t.\t5.0\t-1\t-1\t250\n",
            "",
            "line 2: summit offset 250 is outside the peak (width 200)",
        ),
        (
            "narrowpeak_bad_signal.narrowPeak",
            "chr1\t100\t300\t.\t0\t.\thigh\t-1\t-1\t50\n",
            "",
            "line 1: signalValue 'high' is not a number",
        ),
        (
            "bed_unknown_chrom.bed",
            "chr1\t100\t200\nchr7\t100\t200\n",
            f"--genome {GENOME}",
            "line 2: chromosome 'chr7' is not in genome tiny_genome.fa; the genome has chr1, chr2",
        ),
        (
            "bed_chr_naming.bed",
            "1\t100\t200\n2\t100\t200\n",
            f"--genome {GENOME}",
            "line 1: chromosome '1' is not in genome tiny_genome.fa; the genome names it 'chr1'",
        ),
        (
            "bed_beyond_chrom_end.bed",
            "chr2\t1900\t2100\n",
            f"--genome {GENOME}",
            "line 1: interval chr2:1900-2100 extends beyond the end of chr2 (length 2000)",
        ),
        ("binary_garbage.fa", garbage, "", "binary"),
        ("binary_in_gzip.fa.gz", gz(garbage), "", "binary"),
        ("truncated.fa.gz", compressed[: len(compressed) // 2], "", "gzip data is truncated"),
        (
            "non_utf8.fa",
            b">s1\nACGT\n>s2 caf\xe9\nACGT\n",
            "",
            "line 3: not valid UTF-8 text (byte 0xe9",
        ),
        ("not_gzip.fa.gz", fasta, "", "not gzip data"),
        ("unrecognised.dat", "hello world\nthis is not data\n", "", "cannot tell the format"),
    ]
    return [(f, c.encode() if isinstance(c, str) else c, a, e) for f, c, a, e in rows]


def main() -> None:
    tiny_genome(random.Random(1))
    good_files(random.Random(2))
    rows = bad_files(random.Random(3))
    for old in BAD.glob("*"):
        old.unlink()
    lines = ["file\targs\texpect"]
    for name, content, args, expect in rows:
        write(BAD / name, content)
        assert "\t" not in expect and "\n" not in expect
        lines.append(f"{name}\t{args}\t{expect}")
    write(BAD / "EXPECTED.tsv", "\n".join(lines) + "\n")
    print(f"wrote {len(rows)} bad files, good files and tiny_genome.fa under {HERE}")


if __name__ == "__main__":
    main()
