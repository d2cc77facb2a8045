"""Task checkers (right and wrong answers), answer formats, split hygiene, tokenizer round trips."""
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from edit_dllm.tasks import MAX_ANSWER_CHARS, MAX_PROMPT_CHARS, TASKS, Item, TaskError, get_task, render_prompt
from edit_dllm.tasks import arith, code, countdown, sudoku
from edit_dllm.tokenizer import CHARS, SPECIALS, CharCodec, build, load, save, special_ids


def test_arith_worked_format_and_checker():
    # 347 -> 0347 -> "7430"; 85 -> "5800"; 432 -> "2340"; 126 -> "6210"; 306 -> "6030" and "0306".
    # Carries of 347+85, units first: 7+5=12 -> 1; 4+8+1=13 -> 1; 3+0+1=4 -> 0: "110".
    # Borrows of 432-126: 2-6 <0 -> 1; 3-2-1=0 -> 0; 4-1=3 -> 0: "100".
    assert arith.carries(347, "+", 85) == "110"
    assert arith.carries(432, "-", 126) == "100"
    assert arith.carries(999, "+", 1) == "111"
    assert arith.carries(1000, "-", 1) == "111"
    assert arith.worked([347, 85, 126], ["+", "-"]) == "7430+5800:110=2340;2340-6210:100=6030;#0306"
    item = Item("arith", "347+085-126", "")
    assert arith.check(item, "7430+5800:110=2340;2340-6210:100=6030;#0306")
    assert arith.check(Item("arith", "347+85-126", ""), "#306")
    assert arith.check(item, "anything#306")
    assert not arith.check(item, "#305")
    assert not arith.check(item, "306")          # no final-answer marker
    assert not arith.check(item, "#3O6")


def test_arith_steps_are_fixed_width_and_fit_the_generation():
    for it in arith.generate("train", 500):
        steps = it.answer.rsplit("#", 1)[0].split(";")[:-1]
        assert all(len(s) == 18 for s in steps), it.answer
        assert len(it.answer) <= 64


def test_countdown_checker_accepts_any_valid_equation():
    item = Item("countdown", "7 3 12>33", "")
    assert countdown.check(item, "7*3=21,21+12=33#(7*3)+12")
    assert countdown.check(item, "#12+3*7")
    assert not countdown.check(item, "#(7+3)+12")       # = 22
    assert not countdown.check(item, "#7*3+12+0")       # uses a number not given
    assert not countdown.check(item, "#7*3")            # 12 unused
    assert not countdown.check(item, "#__import__('os')")
    assert not countdown.check(item, "#(7*3)+12)")
    assert countdown.check(Item("countdown", "8 2 5>20", ""), "#(8/2)*5")
    assert not countdown.check(Item("countdown", "8 2 5>20", ""), "#8/(2-2)*5")


def test_sudoku_checker_uses_rules_not_string_match():
    item = Item("sudoku", "1.34/34.2/2.43/4321", "")
    assert sudoku.check(item, "b2g1j1#1234/3412/2143/4321")
    assert not sudoku.check(item, "#1234/3412/2143/4312")    # breaks rows/columns
    assert not sudoku.check(item, "#2134/3412/1243/4321")    # contradicts the givens (and boxes)
    assert not sudoku.check(item, "1234/3412/2143/4321")     # no '#'
    empty = Item("sudoku", "..../..../..../....", "")
    assert sudoku.check(empty, "#1234/3412/2143/4321")
    assert sudoku.check(empty, "#2143/4321/1234/3412")       # another valid completion
    assert len(sudoku._GRIDS) == 288


def test_arith_prompts_are_fixed_width():
    for it in arith.generate("test", 50):
        nums = it.prompt.replace("-", "+").split("+")
        assert all(len(n) == 3 and n.isdigit() for n in nums), it.prompt
        assert it.answer.rsplit("#", 1)[1] == str(int(it.answer.rsplit("#", 1)[1])).zfill(4)
        assert arith.check(it, it.answer)


def test_sudoku_answer_is_the_grid_at_a_fixed_offset():
    for it in sudoku.generate("test", 50):
        assert it.answer[0] == "#" and len(it.answer) == 20
        assert all(p == "." or p == a for p, a in zip(it.prompt, it.answer[1:]))
        assert sudoku.check(it, it.answer)


def test_code_completions_are_predictable_from_the_prompt():
    import re
    for it in code.generate("test", 100):
        assert 1 <= len(it.answer) <= code.MAX_REST
        assert all(name in it.prompt for name in re.findall(r"[A-Za-z_]\w*", it.answer)), it


def test_code_checker_exact_line_after_rstrip():
    item = Item("code", "if a[mid] < x:\nlo =", " mid + 1")
    assert code.check(item, " mid + 1   ")
    assert code.check(item, " mid + 1\nhi = mid")
    assert not code.check(item, "mid + 1")
    assert not code.check(item, " mid+1")


@pytest.mark.parametrize("name", sorted(TASKS))
def test_generated_items_are_valid_and_splits_disjoint(name):
    task = get_task(name)
    test = task.generate("test")
    assert len(test) >= 500
    val = task.generate("val", 300)
    train = task.generate("train", 1500)
    assert train == task.generate("train", 1500)                       # deterministic
    assert task.generate("train", 10) == train[:10]                    # prefix property
    prompts = [set(i.prompt for i in s) for s in (train, val, test)]
    assert not (prompts[0] & prompts[1]) and not (prompts[0] & prompts[2]) and not (prompts[1] & prompts[2])
    for it in train[:300] + test[:300]:
        assert len(it.prompt) <= MAX_PROMPT_CHARS and len(it.answer) <= MAX_ANSWER_CHARS
        assert task.check(it, it.answer), (it.prompt, it.answer)
        assert set(render_prompt(name, it.prompt) + it.answer) <= set(CHARS)


def test_registry_errors():
    with pytest.raises(TaskError, match="unknown task"):
        get_task("nope")
    with pytest.raises(TaskError, match="unknown split"):
        arith.generate("dev")


def test_tokenizer_ids_and_round_trip(tmp_path):
    tok = build()
    save(tok, tmp_path / "tokenizer.json")
    tok = load(tmp_path / "tokenizer.json")
    ids = special_ids(tok)
    assert (ids.unk, ids.eos, ids.pad, ids.mask) == (0, 1, 2, 3)
    assert tok.get_vocab_size() == 4 + len(CHARS) == 100
    codec = CharCodec(tok)
    for name in TASKS:
        for it in get_task(name).generate("test", 50):
            text = render_prompt(name, it.prompt) + it.answer
            enc = tok.encode(text).ids
            assert enc == codec.encode(text)
            assert tok.decode(enc) == text and codec.decode(enc) == text
    assert tok.encode("A<|mask|>").ids == [codec.encode("A")[0], 3]
    assert codec.decode(codec.encode("#12") + [1, 5, 6]) == "#12"
    spec = json.loads((tmp_path / "tokenizer.json").read_text())
    assert spec["model"]["type"] == "BPE" and spec["model"]["merges"] == []
    assert spec["normalizer"] is None and spec["decoder"]["type"] == "Fuse"
    assert [t["content"] for t in spec["added_tokens"]] == list(SPECIALS)


def test_tokenizer_loads_in_js_package(tmp_path):
    """The same tokenizer.json through @huggingface/tokenizers (what the server uses)."""
    root = Path(__file__).resolve().parents[2]
    if shutil.which("node") is None or not (root / "node_modules/@huggingface/tokenizers").exists():
        pytest.skip("node or @huggingface/tokenizers not installed")
    tok = build()
    save(tok, tmp_path / "tokenizer.json")
    samples = [render_prompt(n, it.prompt) + it.answer for n in TASKS for it in get_task(n).generate("test", 20)]
    samples.append(" 'mon')]  x ... y != z")   # clean_up_tokenization_spaces must be off
    (tmp_path / "samples.json").write_text(json.dumps([[s, tok.encode(s).ids] for s in samples]))
    script = (
        "const {Tokenizer}=require('@huggingface/tokenizers');const fs=require('fs');"
        f"const t=new Tokenizer(JSON.parse(fs.readFileSync({json.dumps(str(tmp_path / 'tokenizer.json'))},'utf8')),"
        "{clean_up_tokenization_spaces:false});"
        f"const s=JSON.parse(fs.readFileSync({json.dumps(str(tmp_path / 'samples.json'))},'utf8'));let bad=0;"
        "for(const [x,ids] of s){const e=t.encode(x,{add_special_tokens:false}).ids;"
        "if(JSON.stringify(e)!==JSON.stringify(ids)||t.decode(ids)!==x)bad++;}console.log(bad);"
    )
    out = subprocess.run(["node", "-e", script], cwd=root, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0"
