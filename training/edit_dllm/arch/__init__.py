"""Converted dLLM architectures: one bidirectional LLaMA-family core and the checkpoint layouts it loads.

    core.CoreConfig, core.BidirectionalLM      the model (seam signature: ids, positions, past, want)
    layouts.model_spec(config_dict, file)      config.json -> ModelSpec (llada | dream | llama)
    layouts.LLADA, layouts.HF_LLAMA            tensor-name maps (core <-> checkpoint)
    checkpoint.load_checkpoint(dir, dtype)     local safetensors (sharded or not) -> (model, spec)
    checkpoint.attach_adapter(model, spec, d)  peft LoRA: q/k/v kept as probes, others merged
    tiny.build_tiny_checkpoint / build_tiny_adapter   test checkpoints in the exact HF layouts
    errors.ConvertError                        bad input, naming the file and what was expected

edit_dllm.convert wires these into a bundle; onnx_cache_export exports the core.
"""
