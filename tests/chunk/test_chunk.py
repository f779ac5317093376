from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lokipy.chunk import (
    CHUNK_MAGIC,
    BlockMeta,
    ChunkFormat,
    ChunkReader,
    ChunkWriter,
    ListChunk,
    block_meta,
    encode_block,
)
from lokipy.model.entry import Metadata
from lokipy.model.errors import CorruptData

from .strategies import entry_columns

Columns = tuple[list[int], list[bytes], list[Metadata] | None]


@st.composite
def appends(draw: st.DrawFn) -> list[Columns]:
    """Several batches whose timestamps keep increasing from one batch to the next."""
    batches = draw(st.lists(entry_columns(max_size=15), min_size=1, max_size=5))
    batches.sort(key=lambda cols: cols[0][0])
    out: list[Columns] = []
    floor = -(2**63)
    for ts, lines, md in batches:
        ts = [max(t, floor) for t in ts]
        floor = ts[-1]
        out.append((ts, lines, md))
    return out


def _read_all(reader: ChunkReader) -> ListChunk:
    got = ListChunk(labels=reader.labels)
    for i in range(len(reader)):
        batch = reader.block(i)
        got.extend(list(batch.timestamps), batch.lines(), batch.metadata)
        assert list(reader.timestamps(i)) == list(batch.timestamps)
        assert list(reader.offsets(i)) == list(batch.offsets)
    return got


@given(appends(), st.integers(1, 400), st.binary(max_size=40))
def test_appended_entries_round_trip(batches: list[Columns], block_size: int, labels: bytes) -> None:
    ref = ListChunk(labels=labels)
    writer = ChunkWriter(labels, block_size=block_size)
    for ts, lines, md in batches:
        ref.extend(ts, lines, md)
        writer.append(ts, lines, md)
    buf = writer.finish()
    reader = ChunkReader(buf)
    assert _read_all(reader) == ref
    assert (reader.count, reader.min_ts, reader.max_ts) == (ref.count, ref.min_ts, ref.max_ts)
    assert reader.raw_bytes == ref.raw_bytes
    assert reader.format is ChunkFormat.V1
    # Every block but the last was cut as soon as it reached block_size raw bytes.
    for meta in reader.metas[:-1]:
        assert meta.raw_bytes >= block_size


@given(st.lists(entry_columns(max_size=10), min_size=1, max_size=4))
def test_added_blocks_keep_order_and_metas(blocks: list[Columns]) -> None:
    encoded = [encode_block(*cols) for cols in blocks]
    writer = ChunkWriter(b'{app="x"}')
    placed = [writer.add_block(buf) for buf in encoded]
    reader = ChunkReader(writer.finish())
    assert reader.metas == placed == writer.metas
    for i, (buf, meta) in enumerate(zip(encoded, reader.metas, strict=True)):
        assert bytes(reader.block_bytes(i)) == buf
        assert (meta.count, meta.min_ts, meta.max_ts, meta.raw_bytes) == (
            block_meta(buf).count,
            block_meta(buf).min_ts,
            block_meta(buf).max_ts,
            block_meta(buf).raw_bytes,
        )
        ts, lines, md = blocks[i]
        batch = reader.block(i)
        assert batch.lines() == lines
        assert list(batch.timestamps) == ts


def test_header_carries_labels_and_version() -> None:
    writer = ChunkWriter(b'{job="app", level="info"}')
    writer.append([1, 2], [b"a", b"b"])
    buf = writer.finish()
    assert buf[:4] == CHUNK_MAGIC
    assert buf[4] == ChunkFormat.V1
    reader = ChunkReader(memoryview(bytearray(buf)))
    assert reader.labels == b'{job="app", level="info"}'
    assert reader.block(0).lines() == [b"a", b"b"]


def test_metas_are_read_without_decompressing_blocks() -> None:
    writer = ChunkWriter(b"{}", block_size=10)
    writer.append([1, 2, 3, 4], [b"0123456789", b"abcdefghij", b"k" * 10, b"z"])
    buf = bytearray(writer.finish())
    first = ChunkReader(bytes(buf)).metas[0]
    # Wreck the text frame of block 0 (the bytes just before its trailing text checksum).
    buf[first.offset + first.length - 6] ^= 0xFF
    reader = ChunkReader(bytes(buf))
    assert [m.count for m in reader.metas] == [1, 1, 1, 1]
    assert list(reader.timestamps(0)) == [1]
    assert list(reader.offsets(0)) == [0, 10]
    with pytest.raises(CorruptData, match=r"block 0: text checksum mismatch"):
        reader.block(0)
    # The damage stays in its block: the others still read.
    assert reader.block(1).lines() == [b"abcdefghij"]
    assert [str(e) for e in reader.verify()] != [] and len(reader.verify()) == 1


def test_overlapping_blocks() -> None:
    writer = ChunkWriter()
    for start in (0, 10, 20):
        writer.add_block(encode_block([start, start + 5], [b"a", b"b"]))
    reader = ChunkReader(writer.finish())
    assert reader.overlapping(6, 10) == []
    assert reader.overlapping(5, 11) == [0, 1]
    assert reader.overlapping(0, 100) == [0, 1, 2]


def test_pending_entries_are_cut_before_an_added_block() -> None:
    writer = ChunkWriter()
    writer.append([1], [b"a"])
    assert writer.pending_bytes == 1
    writer.add_block(encode_block([2], [b"b"]))
    assert [m.min_ts for m in writer.metas] == [1, 2]
    assert writer.count == 2


def test_writer_misuse() -> None:
    with pytest.raises(ValueError):
        ChunkWriter().finish()
    writer = ChunkWriter()
    writer.append([5], [b"x"])
    with pytest.raises(ValueError):
        writer.append([4], [b"y"])
    with pytest.raises(ValueError):
        writer.append([6, 7], [b"y"])
    with pytest.raises(ValueError):
        writer.append([8, 6], [b"y", b"z"])
    assert writer.count == 1
    writer.finish()
    with pytest.raises(ValueError):
        writer.append([9], [b"z"])
    with pytest.raises(CorruptData):
        ChunkWriter().add_block(b"not a block")


def test_block_meta_positions_are_absolute() -> None:
    writer = ChunkWriter(b'{a="b"}')
    m0 = writer.add_block(encode_block([1], [b"x"]))
    m1 = writer.add_block(encode_block([2], [b"y"]))
    assert m1.offset == m0.offset + m0.length
    assert isinstance(m0, BlockMeta)


# --- corruption (Loki's TestCorruptChunk) -------------------------------------------------


def _read_everything(buf: bytes) -> None:
    reader = ChunkReader(buf, path="chunks/x")
    for i in range(len(reader)):
        reader.timestamps(i)
        reader.offsets(i)
        reader.block(i)


def _small_chunk(batches: list[Columns]) -> bytes:
    writer = ChunkWriter(b'{app="x"}', block_size=64)
    for cols in batches:
        writer.append(*cols)
    return writer.finish()


@given(appends(), st.data())
def test_truncated_chunk_is_corrupt(batches: list[Columns], data: st.DataObject) -> None:
    buf = _small_chunk(batches)
    cut = data.draw(st.integers(0, len(buf) - 1))
    with pytest.raises(CorruptData):
        _read_everything(buf[:cut])


@given(appends(), st.data())
def test_any_flipped_byte_in_a_chunk_is_detected(batches: list[Columns], data: st.DataObject) -> None:
    buf = bytearray(_small_chunk(batches))
    pos = data.draw(st.integers(0, len(buf) - 1))
    buf[pos] ^= data.draw(st.integers(1, 255))
    with pytest.raises(CorruptData):
        _read_everything(bytes(buf))


@given(st.binary(max_size=300))
def test_garbage_chunk_is_corrupt(garbage: bytes) -> None:
    with pytest.raises(CorruptData):
        _read_everything(garbage)
    with pytest.raises(CorruptData):
        _read_everything(CHUNK_MAGIC + bytes([ChunkFormat.V1, 1]) + garbage)


def test_corrupt_chunk_error_names_path_block_and_offset() -> None:
    writer = ChunkWriter(b"{}")
    writer.add_block(encode_block([1], [b"a"]))
    writer.add_block(encode_block([2], [b"b" * 100]))
    buf = bytearray(writer.finish())
    meta = ChunkReader(bytes(buf)).metas[1]
    buf[meta.offset + 20] ^= 0x01
    reader = ChunkReader(bytes(buf), path="fake/chunk-1")
    with pytest.raises(CorruptData) as info:
        reader.block(1)
    assert "block 1" in str(info.value) and "fake/chunk-1" in str(info.value)
    assert info.value.path == "fake/chunk-1"
    assert info.value.offset is not None and info.value.offset >= meta.offset
    assert reader.block(0).lines() == [b"a"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b"XXXX" + b[4:], "bad magic"),
        (lambda b: b[:4] + b"\x09" + b[5:], "unknown chunk format 9"),
        (lambda b: b[:5] + b"\x07" + b[6:], "unknown chunk encoding 7"),
        (lambda b: b[:-3], "footer"),
        (lambda b: b[:8] + bytes([b[8] ^ 1]) + b[9:], "header checksum"),
    ],
    ids=["magic", "format", "encoding", "footer", "labels"],
)
def test_damaged_chunk_header_and_footer(mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    writer = ChunkWriter(b'{job="a"}')
    writer.append([1], [b"x"])
    with pytest.raises(CorruptData, match=message):
        ChunkReader(mutate(writer.finish()))
