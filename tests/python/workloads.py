# SPDX-License-Identifier: MIT
"""The workloads of issue 10, shared by the tests and the benchmark
(tools/bench/py_bench.py)."""


def w1(step):
    """W1, a scheduler output: a dict of 32 requests (id string, 16 token
    ids, a sampling-params dict, an 8-int block table), ~6.2 KB pickled."""
    return {"step": step, "reqs": [{
        "req_id": "chatcmpl-%016x" % (step * 32 + i),
        "prompt_token_ids": list(range(1000 * i, 1000 * i + 16)),
        "sampling_params": {"temperature": 0.7, "top_p": 0.9, "top_k": 50,
                            "presence_penalty": 0.0, "frequency_penalty": 0.0,
                            "repetition_penalty": 1.0, "max_tokens": 256, "seed": 1000 + i},
        "block_table": list(range(i * 8 + 300, i * 8 + 308))} for i in range(32)]}


def w2(step):
    """W2, a control tuple."""
    return ("execute_model", 17)


def w3(step, np):
    """W3, a multimodal batch: pixel_values f32 (4,3,336,336), image_grid
    i64 (4,3), input_ids i64 (2048,)."""
    return {"pixel_values": np.full((4, 3, 336, 336), step % 7, np.float32),
            "image_grid": np.full((4, 3), step, np.int64),
            "input_ids": np.arange(2048, dtype=np.int64) + step}
