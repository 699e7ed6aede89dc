import type { Notifier } from '../functions/adapters/notifier';
import type { ChatbotNotification } from '../functions/core/notification';

/** Local mode's alerts topic: keeps every notification (and prints its title when asked to). */
export class MemoryNotifier implements Notifier {
  readonly published: ChatbotNotification[] = [];

  constructor(private readonly print?: (line: string) => void) {}

  async publish(notification: ChatbotNotification): Promise<void> {
    this.published.push(notification);
    const detail = notification.metadata.eventType.startsWith('runbook-')
      ? ` — ${notification.content.description}`
      : '';
    this.print?.(`[alerts] ${notification.content.title}${detail}`);
  }
}
