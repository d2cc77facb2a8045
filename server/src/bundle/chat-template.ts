/**
 * An instruct model's chat template (bundle.json chat_template, copied from the checkpoint's
 * tokenizer_config.json) rendered with @huggingface/jinja, the Jinja implementation transformers.js
 * uses for the same templates. The engine wraps the task template in it, so the user's prompt becomes
 * one user turn followed by the assistant header (add_generation_prompt), as `apply_chat_template` does.
 */
import { Template } from "@huggingface/jinja";
import { BundleError } from "../errors";
import type { BundleConfig } from "./bundle-json";
import type { TextTokenizer } from "./tokenizer";

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface ChatTemplate {
  /** The conversation as model input text, ending with the assistant header. */
  render(messages: readonly ChatMessage[]): string;
  /** The task template (containing "{prompt}") as one user turn; "{prompt}" survives rendering. */
  wrap(taskTemplate: string): string;
}

/**
 * Compiles bundle.json's chat_template (null when there is none). bos_token/eos_token are the
 * tokenizer's strings for ids.bos/ids.eos, as transformers passes them. A template that does not parse,
 * or fails on a one-message conversation, is a BundleError at load time, not at the first request.
 */
export function compileChatTemplate(config: BundleConfig, tokenizer: TextTokenizer, file: string): ChatTemplate | null {
  const source = config.chat_template;
  if (source === null || source === undefined) return null;
  let template: Template;
  try {
    template = new Template(source);
  } catch (e) {
    throw new BundleError(file, "chat_template", "a Jinja template @huggingface/jinja can parse", (e as Error).message);
  }
  const special = (id: number | null | undefined): string => (id === null || id === undefined ? "" : (tokenizer.tokenOf(id) ?? ""));
  const context = { bos_token: special(config.ids.bos), eos_token: special(config.ids.eos), add_generation_prompt: true };
  const render = (messages: readonly ChatMessage[]): string => {
    try {
      return template.render({ ...context, messages: messages.map((m) => ({ ...m })) });
    } catch (e) {
      throw new BundleError(file, "chat_template", "a template that renders a user turn (messages, add_generation_prompt)", (e as Error).message);
    }
  };
  const wrap = (taskTemplate: string): string => {
    const text = render([{ role: "user", content: taskTemplate }]);
    if (!text.includes("{prompt}")) {
      throw new BundleError(file, "chat_template", "a template that keeps the user's message (it dropped {prompt})", text.slice(0, 80));
    }
    return text;
  };
  wrap("{prompt}");
  return { render, wrap };
}
