"""Fixture builder for TTP conformance tests: real XDR ledgers built with stellar-sdk.

Every fixture goes the whole way: an ``xdr.LedgerCloseMeta`` holding envelopes, results and
metas is encoded to bytes and decoded by ``decode_ledger``, so the tests exercise the same path
as the real ledgers. Values follow the reference's test fixtures (spec §5): passphrase
"some network passphrase", ledger 12345 closing at 1234500, protocol 20, tx sequence 54321,
operation index 0 (1 in events), 1 unit = 1e7. Where the spec elides addresses, accounts are
deterministic keypairs. The transaction hash cannot be the reference's 0101…: envelopes are
paired with results through their real hash, so :attr:`BuiltLedger.tx_hashes` holds it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from stellar_sdk import Asset, Keypair, MuxedAccount, StrKey, xdr

from ttp_assets.core.native import LedgerCore
from ttp_assets.core.network import Network
from ttp_assets_tests.reference.network_ids import sac_contract_id
from ttp_assets_tests.reference.tables.events import events_from_batches
from ttp_assets_tests.reference.ttp import (
    MuxedInfo,
    TokenEvent,
    TokenTransferProcessor,
    TransactionEvents,
)
from ttp_assets_tests.reference.xdr.assets import AssetInfo, asset_info
from ttp_assets_tests.reference.xdr.ledger import DecodedLedger, decode_ledger, transaction_hash
from ttp_assets_tests.reference.xdr.strkeys import b_address, c_address, l_address

PASSPHRASE = "some network passphrase"
NETWORK = Network("ttp-fixtures", PASSPHRASE)
LEDGER_SEQ = 12345
CLOSE_TIME = 12345 * 100
PROTOCOL = 20
TX_SEQ = 54321
UNIT = 10_000_000


def _keypair(n: int) -> Keypair:
    return Keypair.from_raw_ed25519_seed(bytes([n]) * 32)


TX_SOURCE = _keypair(1).public_key
ACCOUNT_A = _keypair(2).public_key
ACCOUNT_B = _keypair(3).public_key
USDC_ISSUER = _keypair(4).public_key
ETH_ISSUER = _keypair(5).public_key
BTC_ISSUER = _keypair(6).public_key
FEE_BUMP_SOURCE = _keypair(7).public_key
SELLER_1 = _keypair(8).public_key
SELLER_2 = _keypair(9).public_key
MUX_ID_A = 123
MUX_ID_B = 234

XLM = Asset.native().to_xdr_object()
USDC = Asset("USDC", USDC_ISSUER).to_xdr_object()
ETH = Asset("ETH", ETH_ISSUER).to_xdr_object()
BTC = Asset("BTC", BTC_ISSUER).to_xdr_object()

SOME_BALANCE_ID = bytes([1, 2, 3, 4, 5]) + bytes(27)


def info(asset: xdr.Asset) -> AssetInfo:
    return asset_info(asset)


def sac(asset: xdr.Asset) -> str:
    """The C address of ``asset``'s Stellar Asset Contract on the fixture network."""
    return c_address(sac_contract_id(asset, PASSPHRASE))


def sac_id(asset: xdr.Asset) -> bytes:
    return sac_contract_id(asset, PASSPHRASE)


def pool_id(asset_a: xdr.Asset, asset_b: xdr.Asset, fee: int = 30) -> bytes:
    params = xdr.LiquidityPoolParameters(
        type=xdr.LiquidityPoolType.LIQUIDITY_POOL_CONSTANT_PRODUCT,
        constant_product=xdr.LiquidityPoolConstantProductParameters(
            asset_a, asset_b, xdr.Int32(fee)
        ),
    )
    return hashlib.sha256(params.to_xdr_bytes()).digest()


LP_BTC_ETH = pool_id(BTC, ETH)
LP_ETH_USDC = pool_id(ETH, USDC)


def lp(pool: bytes) -> str:
    return l_address(pool)


def cb(balance_hash: bytes) -> str:
    return b_address(balance_hash)


# --- accounts ------------------------------------------------------------------------------


def muxed(g: str, muxed_id: int | None = None) -> xdr.MuxedAccount:
    return MuxedAccount(g, muxed_id).to_xdr_object()


def account_id(g: str) -> xdr.AccountID:
    return Keypair.from_public_key(g).xdr_account_id()


def m_address(g: str, muxed_id: int) -> str:
    return MuxedAccount(g, muxed_id).account_muxed


# --- ledger entries and changes ---------------------------------------------------------------


def _entry(data: xdr.LedgerEntryData) -> xdr.LedgerEntry:
    return xdr.LedgerEntry(xdr.Uint32(LEDGER_SEQ - 1), data, xdr.LedgerEntryExt(0))


def account_entry(g: str, balance: int) -> xdr.LedgerEntry:
    return _entry(
        xdr.LedgerEntryData(
            type=xdr.LedgerEntryType.ACCOUNT,
            account=xdr.AccountEntry(
                account_id=account_id(g),
                balance=xdr.Int64(balance),
                seq_num=xdr.SequenceNumber(xdr.Int64(12345)),
                num_sub_entries=xdr.Uint32(0),
                inflation_dest=None,
                flags=xdr.Uint32(0),
                home_domain=xdr.String32(b""),
                thresholds=xdr.Thresholds(bytes([1, 0, 0, 0])),
                signers=[],
                ext=xdr.AccountEntryExt(0),
            ),
        )
    )


def trustline_entry(g: str, asset: xdr.Asset, balance: int) -> xdr.LedgerEntry:
    tl_asset = xdr.TrustLineAsset.from_xdr_bytes(asset.to_xdr_bytes())
    return _entry(
        xdr.LedgerEntryData(
            type=xdr.LedgerEntryType.TRUSTLINE,
            trust_line=xdr.TrustLineEntry(
                account_id=account_id(g),
                asset=tl_asset,
                balance=xdr.Int64(balance),
                limit=xdr.Int64(2**63 - 1),
                flags=xdr.Uint32(1),
                ext=xdr.TrustLineEntryExt(0),
            ),
        )
    )


def pool_share_trustline_entry(g: str, pool: bytes, balance: int) -> xdr.LedgerEntry:
    return _entry(
        xdr.LedgerEntryData(
            type=xdr.LedgerEntryType.TRUSTLINE,
            trust_line=xdr.TrustLineEntry(
                account_id=account_id(g),
                asset=xdr.TrustLineAsset(
                    type=xdr.AssetType.ASSET_TYPE_POOL_SHARE,
                    liquidity_pool_id=xdr.PoolID(xdr.Hash(pool)),
                ),
                balance=xdr.Int64(balance),
                limit=xdr.Int64(2**63 - 1),
                flags=xdr.Uint32(1),
                ext=xdr.TrustLineEntryExt(0),
            ),
        )
    )


def balance_id(balance_hash: bytes) -> xdr.ClaimableBalanceID:
    return xdr.ClaimableBalanceID(
        type=xdr.ClaimableBalanceIDType.CLAIMABLE_BALANCE_ID_TYPE_V0, v0=xdr.Hash(balance_hash)
    )


def cb_entry(balance_hash: bytes, asset: xdr.Asset, amount: int) -> xdr.LedgerEntry:
    return _entry(
        xdr.LedgerEntryData(
            type=xdr.LedgerEntryType.CLAIMABLE_BALANCE,
            claimable_balance=xdr.ClaimableBalanceEntry(
                balance_id=balance_id(balance_hash),
                claimants=[],
                asset=asset,
                amount=xdr.Int64(amount),
                ext=xdr.ClaimableBalanceEntryExt(0),
            ),
        )
    )


def lp_entry(
    pool: bytes, asset_a: xdr.Asset, asset_b: xdr.Asset, reserve_a: int, reserve_b: int
) -> xdr.LedgerEntry:
    return _entry(
        xdr.LedgerEntryData(
            type=xdr.LedgerEntryType.LIQUIDITY_POOL,
            liquidity_pool=xdr.LiquidityPoolEntry(
                liquidity_pool_id=xdr.PoolID(xdr.Hash(pool)),
                body=xdr.LiquidityPoolEntryBody(
                    type=xdr.LiquidityPoolType.LIQUIDITY_POOL_CONSTANT_PRODUCT,
                    constant_product=xdr.LiquidityPoolEntryConstantProduct(
                        params=xdr.LiquidityPoolConstantProductParameters(
                            asset_a, asset_b, xdr.Int32(30)
                        ),
                        reserve_a=xdr.Int64(reserve_a),
                        reserve_b=xdr.Int64(reserve_b),
                        total_pool_shares=xdr.Int64(1000),
                        pool_shares_trust_line_count=xdr.Int64(1),
                    ),
                ),
            ),
        )
    )


def contract_data_entry(contract: bytes, key: str) -> xdr.LedgerEntry:
    return _entry(
        xdr.LedgerEntryData(
            type=xdr.LedgerEntryType.CONTRACT_DATA,
            contract_data=xdr.ContractDataEntry(
                ext=xdr.ExtensionPoint(0),
                contract=sc_address(c_address(contract)),
                key=sym(key),
                durability=xdr.ContractDataDurability.PERSISTENT,
                val=xdr.SCVal(xdr.SCValType.SCV_VOID),
            ),
        )
    )


def _key(entry: xdr.LedgerEntry) -> xdr.LedgerKey:
    data = entry.data
    t = data.type
    if t == xdr.LedgerEntryType.ACCOUNT:
        return xdr.LedgerKey(t, account=xdr.LedgerKeyAccount(data.account.account_id))
    if t == xdr.LedgerEntryType.CLAIMABLE_BALANCE:
        return xdr.LedgerKey(
            t, claimable_balance=xdr.LedgerKeyClaimableBalance(data.claimable_balance.balance_id)
        )
    if t == xdr.LedgerEntryType.LIQUIDITY_POOL:
        return xdr.LedgerKey(
            t,
            liquidity_pool=xdr.LedgerKeyLiquidityPool(data.liquidity_pool.liquidity_pool_id),
        )
    if t == xdr.LedgerEntryType.TRUSTLINE:
        line = data.trust_line
        return xdr.LedgerKey(t, trust_line=xdr.LedgerKeyTrustLine(line.account_id, line.asset))
    raise ValueError(f"no key helper for {t!r}")


_CT = xdr.LedgerEntryChangeType


def state(entry: xdr.LedgerEntry) -> xdr.LedgerEntryChange:
    return xdr.LedgerEntryChange(_CT.LEDGER_ENTRY_STATE, state=entry)


def updated(entry: xdr.LedgerEntry) -> xdr.LedgerEntryChange:
    return xdr.LedgerEntryChange(_CT.LEDGER_ENTRY_UPDATED, updated=entry)


def created(entry: xdr.LedgerEntry) -> xdr.LedgerEntryChange:
    return xdr.LedgerEntryChange(_CT.LEDGER_ENTRY_CREATED, created=entry)


def restored(entry: xdr.LedgerEntry) -> xdr.LedgerEntryChange:
    return xdr.LedgerEntryChange(_CT.LEDGER_ENTRY_RESTORED, restored=entry)


def removed(entry: xdr.LedgerEntry) -> list[xdr.LedgerEntryChange]:
    """STATE of ``entry`` then its REMOVED, as core writes a deletion."""
    return [state(entry), xdr.LedgerEntryChange(_CT.LEDGER_ENTRY_REMOVED, removed=_key(entry))]


def update(before: xdr.LedgerEntry, after: xdr.LedgerEntry) -> list[xdr.LedgerEntryChange]:
    """STATE then UPDATED, as core writes a modification."""
    return [state(before), updated(after)]


def balance_change(g: str, before: int, after: int) -> list[xdr.LedgerEntryChange]:
    return update(account_entry(g, before), account_entry(g, after))


def changes(items: Sequence[xdr.LedgerEntryChange]) -> xdr.LedgerEntryChanges:
    return xdr.LedgerEntryChanges(list(items))


# --- Soroban values and events -------------------------------------------------------------


def sym(text: str) -> xdr.SCVal:
    return xdr.SCVal(xdr.SCValType.SCV_SYMBOL, sym=xdr.SCSymbol(text.encode()))


def string(text: str | bytes) -> xdr.SCVal:
    raw = text.encode() if isinstance(text, str) else text
    return xdr.SCVal(xdr.SCValType.SCV_STRING, str=xdr.SCString(raw))


def i128(value: int) -> xdr.SCVal:
    hi, lo = value >> 64, value & (2**64 - 1)
    return xdr.SCVal(xdr.SCValType.SCV_I128, i128=xdr.Int128Parts(xdr.Int64(hi), xdr.Uint64(lo)))


def i128_parts(hi: int, lo: int) -> xdr.SCVal:
    return xdr.SCVal(xdr.SCValType.SCV_I128, i128=xdr.Int128Parts(xdr.Int64(hi), xdr.Uint64(lo)))


def u64(value: int) -> xdr.SCVal:
    return xdr.SCVal(xdr.SCValType.SCV_U64, u64=xdr.Uint64(value))


def scbytes(value: bytes) -> xdr.SCVal:
    return xdr.SCVal(xdr.SCValType.SCV_BYTES, bytes=xdr.SCBytes(value))


def void() -> xdr.SCVal:
    return xdr.SCVal(xdr.SCValType.SCV_VOID)


def scmap(*pairs: tuple[xdr.SCVal, xdr.SCVal]) -> xdr.SCVal:
    entries = [xdr.SCMapEntry(key, val) for key, val in pairs]
    return xdr.SCVal(xdr.SCValType.SCV_MAP, map=xdr.SCMap(entries))


def sc_address(strkey: str) -> xdr.SCAddress:
    t = xdr.SCAddressType
    prefix = strkey[0]
    if prefix == "G":
        return xdr.SCAddress(t.SC_ADDRESS_TYPE_ACCOUNT, account_id=account_id(strkey))
    if prefix == "C":
        raw = StrKey.decode_contract(strkey)
        return xdr.SCAddress(t.SC_ADDRESS_TYPE_CONTRACT, contract_id=xdr.ContractID(xdr.Hash(raw)))
    if prefix == "M":
        mux = MuxedAccount.from_account(strkey)
        return xdr.SCAddress(
            t.SC_ADDRESS_TYPE_MUXED_ACCOUNT,
            muxed_account=xdr.MuxedEd25519Account(
                xdr.Uint64(mux.account_muxed_id),
                xdr.Uint256(StrKey.decode_ed25519_public_key(mux.account_id)),
            ),
        )
    if prefix == "L":
        raw = StrKey.decode_liquidity_pool(strkey)
        return xdr.SCAddress(
            t.SC_ADDRESS_TYPE_LIQUIDITY_POOL, liquidity_pool_id=xdr.PoolID(xdr.Hash(raw))
        )
    if prefix == "B":
        raw = StrKey.decode_claimable_balance(strkey)
        return xdr.SCAddress(
            t.SC_ADDRESS_TYPE_CLAIMABLE_BALANCE, claimable_balance_id=balance_id(raw[1:])
        )
    raise ValueError(f"not an address strkey: {strkey}")


def addr(strkey: str) -> xdr.SCVal:
    return xdr.SCVal(xdr.SCValType.SCV_ADDRESS, address=sc_address(strkey))


def contract_event(
    contract: bytes | None,
    topics: Sequence[xdr.SCVal],
    data: xdr.SCVal,
    event_type: xdr.ContractEventType = xdr.ContractEventType.CONTRACT,
) -> xdr.ContractEvent:
    return xdr.ContractEvent(
        ext=xdr.ExtensionPoint(0),
        contract_id=None if contract is None else xdr.ContractID(xdr.Hash(contract)),
        type=event_type,
        body=xdr.ContractEventBody(0, v0=xdr.ContractEventV0(list(topics), data)),
    )


def fee_event(
    g: str, amount: int, stage: int = 0, contract: bytes | None = None
) -> xdr.TransactionEvent:
    """A CAP-67 transaction-level ``fee`` event from the native SAC."""
    return xdr.TransactionEvent(
        xdr.TransactionEventStage(stage),
        contract_event(
            sac_id(XLM) if contract is None else contract, [sym("fee"), addr(g)], i128(amount)
        ),
    )


# --- operations and results ----------------------------------------------------------------

_OP = xdr.OperationType


def operation(
    op_type: xdr.OperationType, source: xdr.MuxedAccount | None = None, **body: object
) -> xdr.Operation:
    return xdr.Operation(source, xdr.OperationBody(op_type, **body))


def op_result(op_type: xdr.OperationType, **arm: object) -> xdr.OperationResult:
    return xdr.OperationResult(
        xdr.OperationResultCode.opINNER, tr=xdr.OperationResultTr(op_type, **arm)
    )


def payment_op(
    dest: xdr.MuxedAccount, asset: xdr.Asset, amount: int, source: xdr.MuxedAccount | None = None
) -> xdr.Operation:
    return operation(_OP.PAYMENT, source, payment_op=xdr.PaymentOp(dest, asset, xdr.Int64(amount)))


def payment_result() -> xdr.OperationResult:
    return op_result(
        _OP.PAYMENT, payment_result=xdr.PaymentResult(xdr.PaymentResultCode.PAYMENT_SUCCESS)
    )


def claim_atom_order_book(
    seller: str, sold: xdr.Asset, amount_sold: int, bought: xdr.Asset, amount_bought: int
) -> xdr.ClaimAtom:
    return xdr.ClaimAtom(
        xdr.ClaimAtomType.CLAIM_ATOM_TYPE_ORDER_BOOK,
        order_book=xdr.ClaimOfferAtom(
            account_id(seller),
            xdr.Int64(1),
            sold,
            xdr.Int64(amount_sold),
            bought,
            xdr.Int64(amount_bought),
        ),
    )


def claim_atom_pool(
    pool: bytes, sold: xdr.Asset, amount_sold: int, bought: xdr.Asset, amount_bought: int
) -> xdr.ClaimAtom:
    return xdr.ClaimAtom(
        xdr.ClaimAtomType.CLAIM_ATOM_TYPE_LIQUIDITY_POOL,
        liquidity_pool=xdr.ClaimLiquidityAtom(
            xdr.PoolID(xdr.Hash(pool)),
            sold,
            xdr.Int64(amount_sold),
            bought,
            xdr.Int64(amount_bought),
        ),
    )


def manage_offer_success(atoms: Sequence[xdr.ClaimAtom]) -> xdr.ManageOfferSuccessResult:
    return xdr.ManageOfferSuccessResult(
        list(atoms),
        xdr.ManageOfferSuccessResultOffer(xdr.ManageOfferEffect.MANAGE_OFFER_DELETED),
    )


def invoke_host_function_op() -> xdr.Operation:
    return operation(
        _OP.INVOKE_HOST_FUNCTION,
        invoke_host_function_op=xdr.InvokeHostFunctionOp(
            xdr.HostFunction(
                xdr.HostFunctionType.HOST_FUNCTION_TYPE_UPLOAD_CONTRACT_WASM,
                wasm=b"\x00asm",
            ),
            [],
        ),
    )


def invoke_host_function_result() -> xdr.OperationResult:
    return op_result(
        _OP.INVOKE_HOST_FUNCTION,
        invoke_host_function_result=xdr.InvokeHostFunctionResult(
            xdr.InvokeHostFunctionResultCode.INVOKE_HOST_FUNCTION_SUCCESS,
            success=xdr.Hash(bytes(32)),
        ),
    )


def memo_text(text: str) -> xdr.Memo:
    return xdr.Memo(xdr.MemoType.MEMO_TEXT, text=text.encode())


def memo_id(value: int) -> xdr.Memo:
    return xdr.Memo(xdr.MemoType.MEMO_ID, id=xdr.Uint64(value))


def memo_hash(value: bytes) -> xdr.Memo:
    return xdr.Memo(xdr.MemoType.MEMO_HASH, hash=xdr.Hash(value))


def memo_return(value: bytes) -> xdr.Memo:
    return xdr.Memo(xdr.MemoType.MEMO_RETURN, ret_hash=xdr.Hash(value))


# --- transactions and ledgers --------------------------------------------------------------


@dataclass
class Tx:
    """One transaction of a fixture ledger: what goes into its envelope, result and meta.

    ``op_changes`` / ``op_events`` are per operation; ``meta_version`` 2, 3 or 4 picks the
    TransactionMeta shape (3 puts ``soroban_events`` in SorobanTransactionMeta, 4 puts
    ``op_events`` in each OperationMetaV2 and ``tx_events`` at the transaction level).
    """

    operations: list[xdr.Operation]
    results: list[xdr.OperationResult] | None = None
    op_changes: list[list[xdr.LedgerEntryChange]] | None = None
    op_events: list[list[xdr.ContractEvent]] | None = None
    soroban_events: list[xdr.ContractEvent] | None = None
    tx_events: list[xdr.TransactionEvent] = field(default_factory=list)
    source: xdr.MuxedAccount = field(default_factory=lambda: muxed(TX_SOURCE))
    memo: xdr.Memo = field(default_factory=lambda: xdr.Memo(xdr.MemoType.MEMO_NONE))
    success: bool = True
    fee_charged: int = 100
    fee_changes: list[xdr.LedgerEntryChange] = field(default_factory=list)
    tx_changes_before: list[xdr.LedgerEntryChange] = field(default_factory=list)
    tx_changes_after: list[xdr.LedgerEntryChange] = field(default_factory=list)
    post_apply_fee_changes: list[xdr.LedgerEntryChange] = field(default_factory=list)
    meta_version: int = 3
    soroban: bool = False
    fee_bump_source: xdr.MuxedAccount | None = None
    result_code: xdr.TransactionResultCode | None = None

    def envelope(self) -> xdr.TransactionEnvelope:
        ext = xdr.TransactionExt(0)
        if self.soroban:
            ext = xdr.TransactionExt(
                1,
                soroban_data=xdr.SorobanTransactionData(
                    xdr.SorobanTransactionDataExt(0),
                    xdr.SorobanResources(
                        xdr.LedgerFootprint([], []), xdr.Uint32(0), xdr.Uint32(0), xdr.Uint32(0)
                    ),
                    xdr.Int64(100),
                ),
            )
        tx = xdr.Transaction(
            source_account=self.source,
            fee=xdr.Uint32(1000),
            seq_num=xdr.SequenceNumber(xdr.Int64(TX_SEQ)),
            cond=xdr.Preconditions(xdr.PreconditionType.PRECOND_NONE),
            memo=self.memo,
            operations=self.operations,
            ext=ext,
        )
        inner = xdr.TransactionV1Envelope(tx, [])
        if self.fee_bump_source is None:
            return xdr.TransactionEnvelope(xdr.EnvelopeType.ENVELOPE_TYPE_TX, v1=inner)
        return xdr.TransactionEnvelope(
            xdr.EnvelopeType.ENVELOPE_TYPE_TX_FEE_BUMP,
            fee_bump=xdr.FeeBumpTransactionEnvelope(
                xdr.FeeBumpTransaction(
                    self.fee_bump_source,
                    xdr.Int64(2000),
                    xdr.FeeBumpTransactionInnerTx(xdr.EnvelopeType.ENVELOPE_TYPE_TX, v1=inner),
                    xdr.FeeBumpTransactionExt(0),
                ),
                [],
            ),
        )

    def result(self, tx_hash: bytes, inner_hash: bytes) -> xdr.TransactionResult:
        code = self.result_code
        results = list(self.results or [])  # txSUCCESS and txFAILED both list op results
        if self.fee_bump_source is None:
            if code is None:
                code = (
                    xdr.TransactionResultCode.txSUCCESS
                    if self.success
                    else xdr.TransactionResultCode.txFAILED
                )
            has_results = code in (
                xdr.TransactionResultCode.txSUCCESS,
                xdr.TransactionResultCode.txFAILED,
            )
            body = xdr.TransactionResultResult(code, results=results if has_results else None)
        else:
            inner_code = (
                xdr.TransactionResultCode.txSUCCESS
                if self.success
                else xdr.TransactionResultCode.txFAILED
            )
            if code is None:
                code = (
                    xdr.TransactionResultCode.txFEE_BUMP_INNER_SUCCESS
                    if self.success
                    else xdr.TransactionResultCode.txFEE_BUMP_INNER_FAILED
                )
            body = xdr.TransactionResultResult(
                code,
                inner_result_pair=xdr.InnerTransactionResultPair(
                    xdr.Hash(inner_hash),
                    xdr.InnerTransactionResult(
                        xdr.Int64(self.fee_charged),
                        xdr.InnerTransactionResultResult(inner_code, results=results),
                        xdr.InnerTransactionResultExt(0),
                    ),
                ),
            )
        return xdr.TransactionResult(xdr.Int64(self.fee_charged), body, xdr.TransactionResultExt(0))

    def meta(self) -> xdr.TransactionMeta:
        n = len(self.operations) if self.success else 0
        op_changes = self.op_changes or [[] for _ in range(n)]
        before, after = changes(self.tx_changes_before), changes(self.tx_changes_after)
        if self.meta_version == 2:
            ops = [xdr.OperationMeta(changes(c)) for c in op_changes[:n]]
            return xdr.TransactionMeta(2, v2=xdr.TransactionMetaV2(before, ops, after))
        if self.meta_version == 3:
            ops = [xdr.OperationMeta(changes(c)) for c in op_changes[:n]]
            soroban_meta = None
            if self.soroban or self.soroban_events:
                soroban_meta = xdr.SorobanTransactionMeta(
                    xdr.SorobanTransactionMetaExt(0),
                    list(self.soroban_events or []),
                    void(),
                    [],
                )
            return xdr.TransactionMeta(
                3,
                v3=xdr.TransactionMetaV3(xdr.ExtensionPoint(0), before, ops, after, soroban_meta),
            )
        op_events = self.op_events or [[] for _ in range(n)]
        ops_v2 = [
            xdr.OperationMetaV2(xdr.ExtensionPoint(0), changes(c), list(e))
            for c, e in zip(op_changes[:n], op_events[:n], strict=True)
        ]
        return xdr.TransactionMeta(
            4,
            v4=xdr.TransactionMetaV4(
                xdr.ExtensionPoint(0), before, ops_v2, after, None, list(self.tx_events), []
            ),
        )


@dataclass
class BuiltLedger:
    ledger: DecodedLedger  # decoded by the reference
    tx_hashes: list[str]
    lcm: bytes  # the LedgerCloseMeta XDR, which the native core reads

    @property
    def tx_hash(self) -> str:
        return self.tx_hashes[0]


def _header(
    protocol: int, tx_set_hash: bytes, result_set_hash: bytes
) -> xdr.LedgerHeaderHistoryEntry:
    """A header that commits to the fixture's tx set and results, as a real one does."""
    zero = xdr.Hash(bytes(32))
    header = xdr.LedgerHeader(
        ledger_version=xdr.Uint32(protocol),
        previous_ledger_hash=zero,
        scp_value=xdr.StellarValue(
            xdr.Hash(tx_set_hash),
            xdr.TimePoint(xdr.Uint64(CLOSE_TIME)),
            [],
            xdr.StellarValueExt(xdr.StellarValueType.STELLAR_VALUE_BASIC),
        ),
        tx_set_result_hash=xdr.Hash(result_set_hash),
        bucket_list_hash=zero,
        ledger_seq=xdr.Uint32(LEDGER_SEQ),
        total_coins=xdr.Int64(10**17),
        fee_pool=xdr.Int64(0),
        inflation_seq=xdr.Uint32(0),
        id_pool=xdr.Uint64(0),
        base_fee=xdr.Uint32(100),
        base_reserve=xdr.Uint32(5_000_000),
        max_tx_set_size=xdr.Uint32(100),
        skip_list=[zero, zero, zero, zero],
        ext=xdr.LedgerHeaderExt(0),
    )
    return xdr.LedgerHeaderHistoryEntry(
        xdr.Hash(hashlib.sha256(header.to_xdr_bytes()).digest()),
        header,
        xdr.LedgerHeaderHistoryEntryExt(0),
    )


def _result_meta(tx: Tx, pair: xdr.TransactionResultPair) -> xdr.TransactionResultMeta:
    if tx.post_apply_fee_changes:
        raise ValueError("post-apply fee processing exists from protocol 23 (LCM v2) only")
    return xdr.TransactionResultMeta(pair, changes(tx.fee_changes), tx.meta())


def _generalized_tx_set(envelopes: list[xdr.TransactionEnvelope]) -> xdr.GeneralizedTransactionSet:
    component = xdr.TxSetComponent(
        xdr.TxSetComponentType.TXSET_COMP_TXS_MAYBE_DISCOUNTED_FEE,
        txs_maybe_discounted_fee=xdr.TxSetComponentTxsMaybeDiscountedFee(None, envelopes),
    )
    return xdr.GeneralizedTransactionSet(
        1,
        v1_tx_set=xdr.TransactionSetV1(
            xdr.Hash(bytes(32)), [xdr.TransactionPhase(0, v0_components=[component])]
        ),
    )


def _inner_hash(envelope: xdr.TransactionEnvelope, tx_hash: bytes) -> bytes:
    if envelope.type != xdr.EnvelopeType.ENVELOPE_TYPE_TX_FEE_BUMP:
        return tx_hash
    inner = xdr.TransactionEnvelope(
        xdr.EnvelopeType.ENVELOPE_TYPE_TX, v1=envelope.fee_bump.tx.inner_tx.v1
    )
    return transaction_hash(inner, NETWORK.network_id)


def build_ledger(txs: Sequence[Tx], protocol: int = PROTOCOL) -> BuiltLedger:
    """The LCM of ``txs`` at ``protocol`` (v0 before 20, v1 before 23, then v2), decoded.

    It goes through bytes and ``decode_ledger``, as real ledgers do.
    """
    lcm, hashes = ledger_xdr(txs, protocol)
    data = lcm.to_xdr_bytes()
    return BuiltLedger(decode_ledger(data, NETWORK), [h.hex() for h in hashes], data)


def ledger_xdr(
    txs: Sequence[Tx], protocol: int = PROTOCOL
) -> tuple[xdr.LedgerCloseMeta, list[bytes]]:
    """The LCM of ``txs`` at ``protocol`` and its transaction hashes, not decoded back."""
    nid = NETWORK.network_id
    envelopes = [tx.envelope() for tx in txs]
    hashes = [transaction_hash(env, nid) for env in envelopes]
    inner_hashes = [_inner_hash(env, h) for env, h in zip(envelopes, hashes, strict=True)]
    pairs = [
        xdr.TransactionResultPair(xdr.Hash(h), tx.result(h, ih))
        for tx, h, ih in zip(txs, hashes, inner_hashes, strict=True)
    ]
    result_set_hash = hashlib.sha256(xdr.TransactionResultSet(pairs).to_xdr_bytes()).digest()
    if protocol < 20:
        # The legacy tx set hash: previous ledger hash then every envelope's XDR.
        legacy = bytes(32) + b"".join(env.to_xdr_bytes() for env in envelopes)
        header = _header(protocol, hashlib.sha256(legacy).digest(), result_set_hash)
        # Classic-era LCM v0: a plain tx set.
        lcm = xdr.LedgerCloseMeta(
            0,
            v0=xdr.LedgerCloseMetaV0(
                header,
                xdr.TransactionSet(xdr.Hash(bytes(32)), envelopes),
                [_result_meta(tx, pair) for tx, pair in zip(txs, pairs, strict=True)],
                [],
                [],
            ),
        )
    elif protocol < 23:
        # Soroban-era LCM v1: generalized tx set, no post-apply fee processing.
        tx_set = _generalized_tx_set(envelopes)
        header = _header(protocol, hashlib.sha256(tx_set.to_xdr_bytes()).digest(), result_set_hash)
        lcm = xdr.LedgerCloseMeta(
            1,
            v1=xdr.LedgerCloseMetaV1(
                xdr.LedgerCloseMetaExt(0),
                header,
                tx_set,
                [_result_meta(tx, pair) for tx, pair in zip(txs, pairs, strict=True)],
                [],
                [],
                xdr.Uint64(0),
                [],
                [],
            ),
        )
    else:
        # Protocol 23+ LCM v2: refunds in post-apply fee processing.
        tx_set = _generalized_tx_set(envelopes)
        header = _header(protocol, hashlib.sha256(tx_set.to_xdr_bytes()).digest(), result_set_hash)
        lcm = xdr.LedgerCloseMeta(
            2,
            v2=xdr.LedgerCloseMetaV2(
                xdr.LedgerCloseMetaExt(0),
                header,
                tx_set,
                [
                    xdr.TransactionResultMetaV1(
                        xdr.ExtensionPoint(0),
                        pair,
                        changes(tx.fee_changes),
                        tx.meta(),
                        changes(tx.post_apply_fee_changes),
                    )
                    for tx, pair in zip(txs, pairs, strict=True)
                ],
                [],
                [],
                xdr.Uint64(0),
                [],
            ),
        )
    return lcm, hashes


def one_op(
    op: xdr.Operation,
    result: xdr.OperationResult | None = None,
    op_changes: Sequence[xdr.LedgerEntryChange] = (),
    protocol: int = PROTOCOL,
    **tx_fields: object,
) -> BuiltLedger:
    """A ledger with one successful transaction of one operation."""
    tx = Tx(
        operations=[op],
        results=[result if result is not None else payment_result()],
        op_changes=[list(op_changes)],
        **tx_fields,  # type: ignore[arg-type]
    )
    return build_ledger([tx], protocol)


# --- running the processor and stating expectations ----------------------------------------

# The conformance suite runs against both implementations (see the ``implementation`` fixture):
# the reference processor on the decoded ledger, and the native core on the ledger's bytes,
# whose ``ttp_events`` rows are turned back into events.
IMPLEMENTATIONS = ("reference", "native")
_implementation = ["reference"]


def use_implementation(name: str) -> None:
    if name not in IMPLEMENTATIONS:
        raise ValueError(f"unknown implementation {name!r}")
    _implementation[0] = name


def _native_events(built: BuiltLedger, mode: str) -> list[TokenEvent]:
    result = LedgerCore(NETWORK, mode, 1).process([built.lcm], ["ttp_events"])
    return list(events_from_batches(result.tables["ttp_events"]))


def _ledger_events(built: BuiltLedger, mode: str) -> list[TokenEvent]:
    if _implementation[0] == "native":
        return _native_events(built, mode)
    return TokenTransferProcessor(NETWORK, mode).events_from_ledger(built.ledger)  # type: ignore[arg-type]


def derived_events(built: BuiltLedger) -> list[TokenEvent]:
    return _ledger_events(built, "derived")


def unified_events(built: BuiltLedger) -> list[TokenEvent]:
    return _ledger_events(built, "unified")


def tx_events(built: BuiltLedger, mode: str = "derived", index: int = 0) -> TransactionEvents:
    if _implementation[0] == "native":
        events = [e for e in _native_events(built, mode) if e.transaction_index == index + 1]
        return TransactionEvents(
            [e for e in events if e.operation_index is None],
            [e for e in events if e.operation_index is not None],
        )
    processor = TokenTransferProcessor(NETWORK, mode)  # type: ignore[arg-type]
    return processor.events_from_transaction(built.ledger, built.ledger.transactions[index])


def operation_events(built: BuiltLedger, mode: str = "derived") -> list[TokenEvent]:
    return tx_events(built, mode).operation_events


def event(
    built: BuiltLedger,
    event_type: str,
    frm: str | None,
    to: str | None,
    asset: xdr.Asset | None,
    amount: int,
    muxed: MuxedInfo | None = None,
    op: int | None = 1,
    contract: str | None = None,
    tx: int = 1,
) -> TokenEvent:
    """The event the reference would emit; the contract defaults to the asset's SAC."""
    if contract is None:
        if asset is None:
            raise ValueError("a custom-token event needs its contract address")
        contract = sac(asset)
    return TokenEvent(
        ledger_sequence=LEDGER_SEQ,
        closed_at=CLOSE_TIME,
        tx_hash=built.tx_hashes[tx - 1],
        transaction_index=tx,
        operation_index=op,
        contract_address=contract,
        event_type=event_type,
        from_address=frm,
        to_address=to,
        asset=None if asset is None else info(asset),
        amount=amount,
        to_muxed_info=muxed,
    )


def fee(built: BuiltLedger, payer: str, amount: int, tx: int = 1) -> TokenEvent:
    return event(built, "fee", payer, None, XLM, amount, op=None, tx=tx)
