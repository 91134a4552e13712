"""Events of classic operations derived from operations, results and ledger-entry changes (§2b).

Derived mode only. The unified mode reads the same movements from CAP-67 events instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from stellar_sdk import xdr

from ..xdr.ledger import DecodedLedger, LedgerTransaction
from ..xdr.strkeys import (
    account_id,
    claimable_balance_id,
    g_address,
    muxed_ed25519,
    muxed_parts,
    pool_id,
)
from .changes import EntryChange, operation_changes
from .errors import TokenTransferError
from .events import (
    BURN,
    CLAWBACK,
    MINT,
    MUXED_HASH,
    MUXED_ID,
    MUXED_TEXT,
    TRANSFER,
    MuxedInfo,
    TokenEvent,
    TxEventContext,
)
from .sac_assets import SacAsset, SacAssets

_OP = xdr.OperationType
_CB_ENTRY = xdr.LedgerEntryType.CLAIMABLE_BALANCE
_LP_ENTRY = xdr.LedgerEntryType.LIQUIDITY_POOL
_CREATED = xdr.LedgerEntryChangeType.LEDGER_ENTRY_CREATED
_REMOVED = xdr.LedgerEntryChangeType.LEDGER_ENTRY_REMOVED
_MEMO = xdr.MemoType


@dataclass(frozen=True, slots=True)
class Party:
    """One side of a movement.

    ``address`` is a G address for accounts (muxed accounts stripped to G), else the L, B or C
    strkey. ``muxed_id`` keeps a muxed account's id for the destination rule of §1.6.
    """

    address: str
    is_account: bool
    muxed_id: int | None = None


def account_party(acc: xdr.MuxedAccount) -> Party:
    g, mid, _ = muxed_parts(acc)
    return Party(g, True, mid)


def account_id_party(acc: xdr.AccountID) -> Party:
    return Party(account_id(acc), True)


def muxed_info_from_memo(memo: xdr.Memo) -> MuxedInfo | None:
    """§1.6: the transaction memo as destination info; MEMO_RETURN is reported as a hash."""
    t = memo.type
    if t == _MEMO.MEMO_NONE:
        return None
    if t == _MEMO.MEMO_ID:
        return MuxedInfo(MUXED_ID, memo.id.uint64)
    if t == _MEMO.MEMO_TEXT:
        # XDR strings are bytes; a memo text that is not UTF-8 is kept readable, not dropped.
        return MuxedInfo(MUXED_TEXT, memo.text.decode("utf-8", errors="replace"))
    if t == _MEMO.MEMO_HASH:
        return MuxedInfo(MUXED_HASH, memo.hash.hash)
    if t == _MEMO.MEMO_RETURN:
        return MuxedInfo(MUXED_HASH, memo.ret_hash.hash)
    raise TokenTransferError(f"unknown memo type {t!r}")


def revoke_claimable_balance_hash(
    tx_source: xdr.AccountID,
    seq_num: xdr.SequenceNumber,
    op_index0: int,
    pool: xdr.PoolID,
    asset: xdr.Asset,
) -> bytes:
    """CAP-38: the id of the claimable balance a trustline revocation makes from a pool."""
    preimage = xdr.HashIDPreimage(
        type=xdr.EnvelopeType.ENVELOPE_TYPE_POOL_REVOKE_OP_ID,
        revoke_id=xdr.HashIDPreimageRevokeID(
            source_account=tx_source,
            seq_num=seq_num,
            op_num=xdr.Uint32(op_index0),
            liquidity_pool_id=pool,
            asset=asset,
        ),
    )
    return hashlib.sha256(preimage.to_xdr_bytes()).digest()


@dataclass(frozen=True, slots=True)
class _PoolDelta:
    """A pool touched by an operation: its assets and |Δ reserve| of each."""

    pool: xdr.PoolID
    asset_a: xdr.Asset
    asset_b: xdr.Asset
    amount_a: int
    amount_b: int


def _pool_deltas(changes: list[EntryChange]) -> list[_PoolDelta]:
    out = []
    for change in changes:
        if change.entry_type != _LP_ENTRY:
            continue
        pre_a = pre_b = post_a = post_b = 0
        entry = None
        if change.pre is not None:
            entry = change.pre.data.liquidity_pool
            cp = entry.body.constant_product
            pre_a, pre_b = cp.reserve_a.int64, cp.reserve_b.int64
        if change.post is not None:
            entry = change.post.data.liquidity_pool
            cp = entry.body.constant_product
            post_a, post_b = cp.reserve_a.int64, cp.reserve_b.int64
        params = entry.body.constant_product.params
        out.append(
            _PoolDelta(
                entry.liquidity_pool_id,
                params.asset_a,
                params.asset_b,
                abs(post_a - pre_a),
                abs(post_b - pre_b),
            )
        )
    return out


def _claimable_balances(
    changes: list[EntryChange], change_type: xdr.LedgerEntryChangeType
) -> list[xdr.ClaimableBalanceEntry]:
    """Claimable balances CREATED (their new entry) or REMOVED (their last state)."""
    out = []
    for change in changes:
        if change.entry_type == _CB_ENTRY and change.change_type == change_type:
            entry = change.pre if change.pre is not None else change.post
            out.append(entry.data.claimable_balance)
    return out


def _single_removed_claimable_balance(changes: list[EntryChange]) -> xdr.ClaimableBalanceEntry:
    removed = _claimable_balances(changes, _REMOVED)
    if not removed:
        raise TokenTransferError("no claimable balance entry found in operation changes")
    if len(removed) > 1:
        raise TokenTransferError(f"{len(removed)} claimable balances removed, expected one")
    return removed[0]


def _single_pool_delta(changes: list[EntryChange]) -> _PoolDelta:
    deltas = _pool_deltas(changes)
    if not deltas:
        raise TokenTransferError("no liquidity pool entry found in operation changes")
    if len(deltas) > 1:
        raise TokenTransferError(f"{len(deltas)} liquidity pool entries changed, expected one")
    return deltas[0]


def movement_event(
    ctx: TxEventContext,
    op_index0: int,
    sac: SacAsset,
    frm: Party,
    to: Party,
    amount: int,
    destination_info: Callable[[Party], MuxedInfo | None] | None,
) -> TokenEvent:
    """``mintOrBurnOrTransferEvent``: the issuer sending mints, the issuer receiving burns.

    ``destination_info`` gives the destination's muxed info (§1.6) when the rule includes it;
    burns never carry it.
    """
    issuer = sac.info.issuer
    from_issuer = issuer is not None and frm.is_account and frm.address == issuer
    to_issuer = issuer is not None and to.is_account and to.address == issuer
    contract, info = sac.contract_address, sac.info
    if to_issuer and not from_issuer:
        return ctx.event(op_index0, contract, BURN, frm.address, None, info, amount)
    muxed = None if destination_info is None else destination_info(to)
    if from_issuer and not to_issuer:
        return ctx.event(op_index0, contract, MINT, None, to.address, info, amount, muxed)
    # Neither side is the issuer, or both are: CAP-67 keeps an issuer paying itself a transfer.
    return ctx.event(op_index0, contract, TRANSFER, frm.address, to.address, info, amount, muxed)


class _Operation:
    """The rules of §2b applied to one successful operation."""

    def __init__(
        self,
        ctx: TxEventContext,
        assets: SacAssets,
        ledger: DecodedLedger,
        tx: LedgerTransaction,
        op_index0: int,
        op: xdr.Operation,
        result: xdr.OperationResult,
        tx_memo_info: Callable[[], MuxedInfo | None],
    ) -> None:
        self.ctx, self.assets, self.ledger, self.tx = ctx, assets, ledger, tx
        self.index0, self.op, self.result = op_index0, op, result
        self.tx_memo_info = tx_memo_info
        source = op.source_account
        self.source = account_party(tx.source_account if source is None else source)

    def changes(self) -> list[EntryChange]:
        return operation_changes(self.ledger, self.tx, self.index0)

    def destination_info(self, to: Party) -> MuxedInfo | None:
        """§1.6 classic path: a muxed destination's id, else the (inner) transaction memo."""
        if not to.is_account:
            return None
        if to.muxed_id is not None:
            return MuxedInfo(MUXED_ID, to.muxed_id)
        return self.tx_memo_info()

    def movement(
        self, asset: xdr.Asset, frm: Party, to: Party, amount: int, include_mux: bool
    ) -> TokenEvent:
        info = self.destination_info if include_mux else None
        return movement_event(self.ctx, self.index0, self.assets.of(asset), frm, to, amount, info)

    def _event(
        self,
        sac: SacAsset,
        event_type: str,
        frm: str | None,
        to: str | None,
        amount: int,
    ) -> TokenEvent:
        return self.ctx.event(
            self.index0, sac.contract_address, event_type, frm, to, sac.info, amount
        )

    def trades(self, atoms: list[xdr.ClaimAtom]) -> list[TokenEvent]:
        """Per claim atom: the taker pays the seller what it bought, then receives what it sold.

        The order of each pair is the one stellar-core emits under CAP-67 (the reference emits
        the seller's leg first); see deviation 7 in the package docstring.
        """
        taker = Party(self.source.address, True)  # trades never carry muxed info
        out = []
        for atom in atoms:
            t = atom.type
            if t == xdr.ClaimAtomType.CLAIM_ATOM_TYPE_LIQUIDITY_POOL:
                claim = atom.liquidity_pool
                seller = Party(pool_id(claim.liquidity_pool_id), False)
            elif t == xdr.ClaimAtomType.CLAIM_ATOM_TYPE_ORDER_BOOK:
                claim = atom.order_book
                seller = account_id_party(claim.seller_id)
            else:
                claim = atom.v0
                seller = Party(g_address(claim.seller_ed25519.uint256), True)
            out.append(
                self.movement(claim.asset_bought, taker, seller, claim.amount_bought.int64, False)
            )
            out.append(
                self.movement(claim.asset_sold, seller, taker, claim.amount_sold.int64, False)
            )
        return out

    def events(self) -> list[TokenEvent] | None:
        """The operation's events, or None for operation types that move no tokens."""
        handler = _HANDLERS.get(self.op.body.type)
        return None if handler is None else handler(self)

    # --- one method per operation type -------------------------------------------------------

    def create_account(self) -> list[TokenEvent]:
        body = self.op.body.create_account_op
        native = self.assets.native.asset
        dest = account_id_party(body.destination)
        return [self.movement(native, self.source, dest, body.starting_balance.int64, True)]

    def payment(self) -> list[TokenEvent]:
        body = self.op.body.payment_op
        dest = account_party(body.destination)
        return [self.movement(body.asset, self.source, dest, body.amount.int64, True)]

    def path_payment_strict_send(self) -> list[TokenEvent]:
        body = self.op.body.path_payment_strict_send_op
        success = self.result.tr.path_payment_strict_send_result.success
        dest = account_party(body.destination)
        final = self.movement(body.dest_asset, self.source, dest, success.last.amount.int64, True)
        return [*self.trades(success.offers), final]

    def path_payment_strict_receive(self) -> list[TokenEvent]:
        body = self.op.body.path_payment_strict_receive_op
        success = self.result.tr.path_payment_strict_receive_result.success
        dest = account_party(body.destination)
        final = self.movement(body.dest_asset, self.source, dest, body.dest_amount.int64, True)
        return [*self.trades(success.offers), final]

    def sell_offer(self) -> list[TokenEvent]:
        """MANAGE_SELL_OFFER and CREATE_PASSIVE_SELL_OFFER.

        stellar-core writes a passive offer's result under the MANAGE_SELL_OFFER arm of the
        result union (seen in the core-tests ledgers), so the arm that is set is read.
        """
        tr = self.result.tr
        if tr.type == _OP.MANAGE_SELL_OFFER:
            result = tr.manage_sell_offer_result
        else:
            result = tr.create_passive_sell_offer_result
        return self.trades(result.success.offers_claimed)

    def manage_buy_offer(self) -> list[TokenEvent]:
        return self.trades(self.result.tr.manage_buy_offer_result.success.offers_claimed)

    def account_merge(self) -> list[TokenEvent]:
        balance = self.result.tr.account_merge_result.source_account_balance
        if balance is None:
            return []
        dest = account_party(self.op.body.destination)
        native = self.assets.native.asset
        return [self.movement(native, self.source, dest, balance.int64, True)]

    def create_claimable_balance(self) -> list[TokenEvent]:
        body = self.op.body.create_claimable_balance_op
        balance_id = self.result.tr.create_claimable_balance_result.balance_id
        cb = Party(claimable_balance_id(balance_id), False)
        return [self.movement(body.asset, self.source, cb, body.amount.int64, False)]

    def claim_claimable_balance(self) -> list[TokenEvent]:
        entry = _single_removed_claimable_balance(self.changes())
        balance_id = self.op.body.claim_claimable_balance_op.balance_id
        cb = Party(claimable_balance_id(balance_id), False)
        return [self.movement(entry.asset, cb, self.source, entry.amount.int64, True)]

    def clawback(self) -> list[TokenEvent]:
        body = self.op.body.clawback_op
        sac = self.assets.of(body.asset)
        frm = account_party(body.from_).address
        return [self._event(sac, CLAWBACK, frm, None, body.amount.int64)]

    def clawback_claimable_balance(self) -> list[TokenEvent]:
        entry = _single_removed_claimable_balance(self.changes())
        balance_id = self.op.body.clawback_claimable_balance_op.balance_id
        sac = self.assets.of(entry.asset)
        frm = claimable_balance_id(balance_id)
        return [self._event(sac, CLAWBACK, frm, None, entry.amount.int64)]

    def liquidity_pool_deposit(self) -> list[TokenEvent]:
        delta = _single_pool_delta(self.changes())
        for asset, amount in ((delta.asset_a, delta.amount_a), (delta.asset_b, delta.amount_b)):
            if amount <= 0:
                raise TokenTransferError(
                    f"deposited amount {amount} of {self.assets.of(asset).info.canonical} into "
                    f"{pool_id(delta.pool)} is not positive"
                )
        pool = Party(pool_id(delta.pool), False)
        return [
            self.movement(delta.asset_a, self.source, pool, delta.amount_a, False),
            self.movement(delta.asset_b, self.source, pool, delta.amount_b, False),
        ]

    def liquidity_pool_withdraw(self) -> list[TokenEvent]:
        # |Δ| cannot be negative, so unlike a deposit nothing here can fail; a withdrawal that
        # rounds down to 0 is emitted as a 0 movement, as the reference does.
        delta = _single_pool_delta(self.changes())
        pool = Party(pool_id(delta.pool), False)
        return [
            self.movement(delta.asset_a, pool, self.source, delta.amount_a, True),
            self.movement(delta.asset_b, pool, self.source, delta.amount_b, True),
        ]

    def inflation(self) -> list[TokenEvent]:
        native = self.assets.native
        return [
            self._event(native, MINT, None, account_id(p.destination), p.amount.int64)
            for p in self.result.tr.inflation_result.payouts
        ]

    def revoked_trustline(self) -> list[TokenEvent]:
        """ALLOW_TRUST / SET_TRUST_LINE_FLAGS: pool shares redeemed into claimable balances.

        CAP-38: revoking a trustline that holds pool shares withdraws them into up to two
        claimable balances per pool, whose ids are hashes of (tx source, tx sequence number,
        operation index, pool, asset). Nothing in the meta links a balance to its pool, so the
        ids are recomputed and matched against the balances this operation created. A side
        with no balance went back to its issuer (the trustor issues it): that side is burned.
        The operation's flags are not inspected, as in the reference.
        """
        changes = self.changes()
        pools = _pool_deltas(changes)
        if not pools:
            return []
        created = {cb.balance_id.v0.hash: cb for cb in _claimable_balances(changes, _CREATED)}
        if not created:
            return []
        # The reference walks changes sorted by ledger key; pool keys differ only in pool id.
        pools.sort(key=lambda d: d.pool.pool_id.hash)
        # CAP-38 hashes the transaction's source (not the operation's), muxed or not as its G.
        tx_source = xdr.AccountID(
            xdr.PublicKey(
                xdr.PublicKeyType.PUBLIC_KEY_TYPE_ED25519,
                xdr.Uint256(muxed_ed25519(self.tx.source_account)),
            )
        )
        seq_num = self.tx.tx.seq_num
        out: list[TokenEvent] = []
        for delta in pools:
            lp = Party(pool_id(delta.pool), False)
            matches = []
            for asset in (delta.asset_a, delta.asset_b):
                cb_hash = revoke_claimable_balance_hash(
                    tx_source, seq_num, self.index0, delta.pool, asset
                )
                if cb_hash in created:
                    matches.append(created[cb_hash])
            if len(matches) > 2:
                raise TokenTransferError(f"more than two claimable balances from {lp.address}")
            for cb in matches:
                cb_party = Party(claimable_balance_id(cb.balance_id), False)
                out.append(self.movement(cb.asset, lp, cb_party, cb.amount.int64, False))
            if len(matches) == 1:
                # Value equality, where the reference compares Go structs holding pointers
                # (see the package docstring): burn the side that got no claimable balance.
                if matches[0].asset == delta.asset_a:
                    burned, amount = delta.asset_b, delta.amount_b
                else:
                    burned, amount = delta.asset_a, delta.amount_a
                out.append(self._event(self.assets.of(burned), BURN, lp.address, None, amount))
        return out


_HANDLERS: dict[xdr.OperationType, Callable[[_Operation], list[TokenEvent]]] = {
    _OP.CREATE_ACCOUNT: _Operation.create_account,
    _OP.PAYMENT: _Operation.payment,
    _OP.PATH_PAYMENT_STRICT_SEND: _Operation.path_payment_strict_send,
    _OP.PATH_PAYMENT_STRICT_RECEIVE: _Operation.path_payment_strict_receive,
    _OP.MANAGE_SELL_OFFER: _Operation.sell_offer,
    _OP.CREATE_PASSIVE_SELL_OFFER: _Operation.sell_offer,
    _OP.MANAGE_BUY_OFFER: _Operation.manage_buy_offer,
    _OP.ACCOUNT_MERGE: _Operation.account_merge,
    _OP.CREATE_CLAIMABLE_BALANCE: _Operation.create_claimable_balance,
    _OP.CLAIM_CLAIMABLE_BALANCE: _Operation.claim_claimable_balance,
    _OP.CLAWBACK: _Operation.clawback,
    _OP.CLAWBACK_CLAIMABLE_BALANCE: _Operation.clawback_claimable_balance,
    _OP.LIQUIDITY_POOL_DEPOSIT: _Operation.liquidity_pool_deposit,
    _OP.LIQUIDITY_POOL_WITHDRAW: _Operation.liquidity_pool_withdraw,
    _OP.ALLOW_TRUST: _Operation.revoked_trustline,
    _OP.SET_TRUST_LINE_FLAGS: _Operation.revoked_trustline,
    _OP.INFLATION: _Operation.inflation,
}


def classic_operation_events(
    ctx: TxEventContext,
    assets: SacAssets,
    ledger: DecodedLedger,
    tx: LedgerTransaction,
    op_index0: int,
    tx_memo_info: Callable[[], MuxedInfo | None],
) -> list[TokenEvent] | None:
    """Events of one operation of a successful transaction; None for types without rules.

    ``tx_memo_info`` gives the (inner) transaction memo as muxed info; it is a callable so the
    memo is only converted when some destination needs it.
    """
    op = tx.operations[op_index0]
    result = tx.operation_results[op_index0]
    return _Operation(ctx, assets, ledger, tx, op_index0, op, result, tx_memo_info).events()
