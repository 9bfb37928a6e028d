"""Message and review texts the simulator draws from.

Extortion phrasings follow the press reports behind ../shared/domain.md
(不给钱就继续差评, 花钱消灾, "more people will come and give you bad reviews");
unhappy customers also talk about money (refunds, shipping compensation), which
is what makes them the hard negative for any keyword rule. ``{amount}`` is
filled with a number, in formats the feature lexicon must read (8800, 8,800,
¥8800, 8800元, 8800块, RMB 8800, 8800 yuan).
"""

from __future__ import annotations

EXTORTION_DEMANDS = (
    "不给钱就继续差评，{amount}元花钱消灾",
    "给我{amount}元，我就把差评删了",
    "转{amount}块，差评马上改成好评",
    "要么花钱消灾，要么等着更多人来给你差评。{amount}元",
    "私了吧，{amount}元，不然差评一直挂着",
    "¥{amount}，删评。不给的话明天还有差评",
    "Pay {amount} yuan and I will delete the review.",
    "Send me RMB {amount} or more bad reviews are coming.",
    "{amount} yuan and the 1-star review disappears. Otherwise my friends will review you too.",
    "Transfer {amount} yuan today and I change it to 5 stars.",
)

EXTORTION_FOLLOW_UPS = (
    "收到了，差评已经删了",
    "钱到了，评价改好了",
    "Received. The review is gone.",
    "考虑得怎么样？不给钱还会有人来差评",
    "Last chance, more reviews tomorrow.",
)

MERCHANT_REPLIES_TO_EXTORTION = (
    "你这是敲诈，我们会向平台投诉",
    "好吧，我转给你，请删掉差评",
    "我们是小店，能不能少一点",
    "This is extortion. We will report you.",
    "OK, I will pay. Please remove it.",
)

COMPLAINTS = (
    "收到的商品是坏的，请退款",
    "质量太差了，要求退货退款",
    "快递太慢，东西也有问题，怎么处理？",
    "请赔偿{amount}元运费，谢谢",
    "The item arrived broken, I want a refund.",
    "Wrong size. Can I return it and get my money back?",
    "颜色和图片不一样，差评了，希望给个说法",
    "Please refund the {amount} yuan shipping fee.",
)

COMPLAINT_CLOSINGS = (
    "问题解决了，谢谢",
    "退款收到了，评价我改一下",
    "Thanks for the refund, problem solved.",
)

MERCHANT_REPLIES_TO_COMPLAINT = (
    "非常抱歉，马上给您退款",
    "亲，可以退货，运费我们承担",
    "Sorry about that, refund is on the way.",
    "请提供照片，我们核实后处理",
)

QUESTIONS = (
    "请问有货吗？",
    "什么时候发货？",
    "能开发票吗？",
    "Is this available in blue?",
    "Do you ship to Shanghai?",
    "收到了，谢谢",
)

MERCHANT_ANSWERS = (
    "亲，有货的",
    "今天下午发货",
    "Yes, in stock.",
    "可以的",
)

POSITIVE_REVIEWS = (
    "很好，物流很快",
    "质量不错，会回购",
    "Great quality, fast delivery.",
    "和描述一致，满意",
    "",
    "Good value for money.",
)

NEUTRAL_REVIEWS = ("一般般吧", "还行", "OK, nothing special.", "")

NEGATIVE_REVIEWS = (
    "质量很差，不推荐",
    "东西是坏的，差评",
    "Terrible, arrived broken.",
    "和图片完全不一样",
    "客服态度很差",
    "Worst shop ever. Do not buy.",
)

# Unhappy customers who ask for large compensation, in words close to a demand
# (difficulty realistic and hard): the hard negative for any keyword rule.
BIG_CLAIMS = (
    "东西坏了还耽误了我的事，赔我{amount}元，不然这个差评我不会改",
    "要么赔偿{amount}元，要么我投诉到平台",
    "给{amount}元补偿，我就把评价改了",
    "I want {amount} yuan compensation or the 1-star review stays.",
    "Pay {amount} yuan for the damage and I will update my review.",
    "耽误了婚礼，至少赔{amount}块，否则找消协",
)

MERCHANT_REPLIES_TO_CLAIM = (
    "是我们的问题，给您补偿，请查收",
    "金额太高了，我们最多赔一部分",
    "We are sorry, we will compensate you.",
    "请先提供照片，我们核实后赔偿",
)
