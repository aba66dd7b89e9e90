/** Typed errors of the rules layer: bad configuration, a failed write, a failed read-back. */
import { TortieError } from '../../common/errors.js';

/** The desired rules configuration is invalid (bad CIDR, bad port); `where` names the field. */
export class RulesConfigError extends TortieError {
  constructor(message: string, where: string) {
    super('rules-invalid-config', message, { where });
    this.name = 'RulesConfigError';
  }
}

/** A command that writes rules or sets failed; nothing we own was half-written (transactions). */
export class RulesApplyError extends TortieError {
  constructor(readonly command: string, readonly exitCode: number, readonly stderr: string,
    options: { cause?: unknown } = {}) {
    super('rules-apply-failed', `${command} exited ${exitCode}: ${stderr.trim().slice(0, 2000)}`
      + ' (will resync and retry; check that nftables/iptables are usable in this namespace)',
    { ...options, where: command });
    this.name = 'RulesApplyError';
  }
}

/** Reading our own rules or sets back from the kernel failed or returned something unparseable. */
export class RulesReadError extends TortieError {
  constructor(readonly command: string, message: string, options: { cause?: unknown } = {}) {
    super('rules-read-failed', message, { ...options, where: command });
    this.name = 'RulesReadError';
  }
}
