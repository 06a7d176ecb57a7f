// Applies the masquerade table (./compile-masq.ts) through the nf_tables socket of kernel/: the
// whole table replaced in one transaction, only when it changed or when a periodic resync asks
// (repairing a table flushed behind our back costs one tiny batch).
import { planFullSync } from '../../kernel/nftables/plan.js';
import { renderNft } from '../../kernel/nftables/render.js';
import { NfTablesSocket } from '../../kernel/nftables/socket.js';
import { compileMasquerade, MASQ_TABLE } from './compile-masq.js';

export class MasqueradeApplier {
  private sock: Pick<NfTablesSocket, 'commit' | 'close'> | undefined;
  private installed: string | undefined;

  constructor(private readonly netns?: string) {}

  private socket(): Pick<NfTablesSocket, 'commit' | 'close'> {
    return (this.sock ??= NfTablesSocket.open(this.netns));
  }

  /** Installs the table for `clusterCidr`; returns whether a batch was sent. */
  async sync(clusterCidr: string, opts: { force?: boolean } = {}): Promise<boolean> {
    const rs = compileMasquerade(clusterCidr);
    const text = renderNft(rs);
    if (!opts.force && text === this.installed) return false;
    this.installed = undefined;
    await this.socket().commit({ family: 'ip', table: rs.table, ops: planFullSync(rs) });
    this.installed = text;
    return true;
  }

  /** Removes the table (a missing one is fine) and closes the socket. */
  async cleanup(): Promise<void> {
    try {
      await this.socket().commit({ family: 'ip', table: MASQ_TABLE, ops: [{ op: 'addTable' }, { op: 'delTable' }] });
    } finally {
      this.close();
    }
  }

  close(): void {
    this.sock?.close();
    this.sock = undefined;
    this.installed = undefined;
  }
}
