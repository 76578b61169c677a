"""Variant file reading (VCF, VCF.gz, BCF, TSV) and the annotated VCF writer."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cislearn.errors import InputError
from cislearn.io.vcf import InfoField, Variant, read_variants, variant_format, write_vcf

HEAD = (
    "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=1000>\n##contig=<ID=2,length=1000>\n"
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
)

allele = st.text(alphabet="ACGTN", min_size=1, max_size=6)
records = st.lists(
    st.tuples(
        st.sampled_from(["chr1", "2"]),
        st.integers(1, 10**6),
        allele,
        st.lists(allele, min_size=1, max_size=3),
        st.one_of(st.none(), st.from_regex(r"rs[0-9]{1,6}", fullmatch=True)),
    ),
    max_size=25,
)


def expected(recs, first_line: int) -> list[Variant]:
    out = []
    for k, (chrom, pos, ref, alts, vid) in enumerate(recs):
        for alt in alts:
            name = vid or f"{chrom}:{pos}:{ref}:{alt}"
            out.append(Variant(chrom, pos, ref, alt, name, first_line + k, len(alts)))
    return out


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(recs=records, gz=st.booleans())
def test_vcf_round_trip_splits_multiallelic(tmp_path: Path, recs, gz: bool) -> None:
    body = "".join(f"{c}\t{p}\t{i or '.'}\t{r}\t{','.join(a)}\t.\t.\t.\n" for c, p, r, a, i in recs)
    path = tmp_path / ("v.vcf.gz" if gz else "v.vcf")
    if gz:
        with gzip.open(path, "wt") as fh:
            fh.write(HEAD + body)
    else:
        path.write_text(HEAD + body)
    assert list(read_variants(path)) == expected(recs, 5)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(recs=records, header=st.booleans(), sep=st.sampled_from(["\t", " "]))
def test_tsv_round_trip(tmp_path: Path, recs, header: bool, sep: str) -> None:
    lines = ["# a comment"] + (["chrom\tpos\tref\talt\tid"] if header else [])
    for c, p, r, a, i in recs:
        lines.append(sep.join([c, str(p), r, ",".join(a)] + ([i] if i else [])))
    path = tmp_path / "v.tsv"
    path.write_text("\n".join(lines) + "\n")
    got = list(read_variants(path))
    assert got == expected(recs, 2 + header)


def test_bcf_is_read_with_cyvcf2(tmp_path: Path) -> None:
    import cyvcf2

    src = tmp_path / "v.vcf"
    src.write_text(HEAD + "chr1\t5\trs1\tA\tC,G\t.\t.\t.\n2\t9\t.\tAT\tA\t.\t.\t.\n")
    reader = cyvcf2.VCF(str(src))
    out = tmp_path / "v.bcf"
    writer = cyvcf2.Writer(str(out), reader, mode="wb")
    for rec in reader:
        writer.write_record(rec)
    writer.close()
    reader.close()
    assert variant_format(out) == "bcf"
    got = list(read_variants(out))
    assert [(v.chrom, v.pos, v.ref, v.alt, v.id, v.n_alts) for v in got] == [
        ("chr1", 5, "A", "C", "rs1", 2),
        ("chr1", 5, "A", "G", "rs1", 2),
        ("2", 9, "AT", "A", "2:9:AT:A", 1),
    ]


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ("chr1\t5\trs1\tA\tC\t.\t.\t.\nchr1\tabc\trs2\tA\tC\t.\t.\t.\n", 6, "position 'abc'"),
        ("chr1\t5\trs1\tA\tC\t.\t.\t.\nchr1\t7\n", 6, "at least 8 tab-separated"),
        ("chr1 5 rs1 A C . . .\n", 5, "separated by spaces"),
        ("chr1\t5\trs1\tAXG\tC\t.\t.\t.\n", 5, "REF allele 'AXG' is not a DNA allele"),
        ("chr1\t5\trs1\tA\tQ\t.\t.\t.\n", 5, "ALT allele 'Q'"),
    ],
)
def test_malformed_vcf_line_names_file_and_line(tmp_path, body, line, message) -> None:
    path = tmp_path / "bad.vcf"
    path.write_text(HEAD + body)
    with pytest.raises(InputError) as err:
        list(read_variants(path))
    text = str(err.value)
    assert text.startswith(f"{path}, line {line}: "), text
    assert message in text and "\n" not in text


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ("chr1\t5\tA\tC\nchr1\t-3\tA\tC\n", 2, "position '-3'"),
        ("chr1\t5\tA\n", 1, "expected 4 or 5 columns"),
        ("chr1\t5\tA\tC\tid\textra\n", 1, "found 6"),
        ("chr1\t5\t-\tC\n", 1, "REF allele '-'"),
    ],
)
def test_malformed_tsv_line(tmp_path, body, line, message) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text(body)
    with pytest.raises(InputError, match=rf"bad.tsv, line {line}: .*{message}"):
        list(read_variants(path))


def test_missing_file_and_format_detection(tmp_path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_variants(tmp_path / "nope.vcf")
    sniff = tmp_path / "variants.dat"
    sniff.write_text(HEAD)
    assert variant_format(sniff) == "vcf"
    assert variant_format("x.vcf.bgz") == "vcf" and variant_format("x.txt.gz") == "tsv"
    assert list(read_variants(sniff)) == []


def test_write_vcf_declares_info_and_round_trips(tmp_path) -> None:
    import cyvcf2

    info = [
        InfoField("CL_FLAG", "1", "String", "flags"),
        InfoField("CL_D", "1", "Float", "delta; with 'quotes'"),
        InfoField("CL_HIT", "0", "Flag", "a flag"),
    ]
    chunks = [
        [("chr1", 5, "rs1", "A", "C", {"CL_FLAG": "ok", "CL_D": -0.25, "CL_HIT": True})],
        [("2", 9, "x", "AT", "A", {"CL_FLAG": "near_end", "CL_D": float("nan")})],
    ]
    out = tmp_path / "o.vcf"
    n = write_vcf(out, chunks, info=info, meta=["##contig=<ID=chr1,length=1000>"])
    assert n == 2
    text = out.read_text()
    assert '##INFO=<ID=CL_D,Number=1,Type=Float,Description="delta; with ' in text
    reader = cyvcf2.VCF(str(out))
    recs = list(reader)
    assert recs[0].INFO["CL_D"] == pytest.approx(-0.25) and recs[0].INFO["CL_HIT"] is True
    assert recs[1].INFO.get("CL_D") is None and recs[1].INFO["CL_FLAG"] == "near_end"
    assert [v.alt for v in read_variants(out)] == ["C", "A"]


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["ok", "near_end", "ref mismatch;x=1", None]),
            st.one_of(st.floats(allow_nan=True, allow_infinity=False), st.just(float("nan"))),
        ),
        max_size=10,
    )
)
def test_format_vcf_records_matches_write_vcf(tmp_path_factory, rows) -> None:
    """The fast record formatter writes the records write_vcf writes (escaped text, NaN and
    None keys left out, '.' when nothing is left)."""
    import numpy as np

    from cislearn.io.vcf import format_vcf_records, vcf_header

    n = len(rows)
    flag = [r[0] for r in rows]
    value = np.array([r[1] for r in rows], np.float64)
    chrom, pos = ["chr1"] * n, list(range(1, n + 1))
    vid, ref, alt = [f"v{i}" for i in range(n)], ["A"] * n, ["C"] * n
    info = [InfoField("CL_FLAG", "1", "String", "f"), InfoField("CL_X", "1", "Float", "x")]
    out = tmp_path_factory.mktemp("vcf") / "o.vcf"
    dicts = [{"CL_FLAG": f, "CL_X": float(x)} for f, x in zip(flag, value, strict=True)]
    records = [
        (c, p, i, r, a, d)
        for c, p, i, r, a, d in zip(chrom, pos, vid, ref, alt, dicts, strict=True)
    ]
    write_vcf(out, [records], info=info)
    text = format_vcf_records(chrom, pos, vid, ref, alt, {"CL_FLAG": flag, "CL_X": value})
    assert out.read_text() == vcf_header(info) + text
