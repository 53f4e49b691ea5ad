// Text into HTML (the job summary is Markdown with HTML blocks).
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, c => ENTITIES[c] as string)
}
